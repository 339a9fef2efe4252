// Probes noida-db (or any broker) with librdkafka: see run.sh and docs/kafka.md. Usage: probe BOOTSTRAP TEST
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
static const char *bs;
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
static rd_kafka_conf_t *conf(void){rd_kafka_conf_t*c=rd_kafka_conf_new();char e[512];rd_kafka_conf_set(c,"bootstrap.servers",bs,e,512);rd_kafka_conf_set(c,"log_level","2",e,512);return c;}
static void set(rd_kafka_conf_t*c,const char*k,const char*v){char e[512];if(rd_kafka_conf_set(c,k,v,e,512)){fprintf(stderr,"%s\n",e);exit(2);}}
static void die(rd_kafka_error_t*e,const char*w){if(e){printf("%s: ERROR %s %s fatal=%d abort=%d retri=%d\n",w,rd_kafka_error_name(e),rd_kafka_error_string(e),rd_kafka_error_is_fatal(e),rd_kafka_error_txn_requires_abort(e),rd_kafka_error_is_retriable(e));rd_kafka_error_destroy(e);}}
static rd_kafka_t*txp(const char*id,const char*timeout){rd_kafka_conf_t*c=conf();set(c,"transactional.id",id);if(timeout)set(c,"transaction.timeout.ms",timeout);char e[512];rd_kafka_t*p=rd_kafka_new(RD_KAFKA_PRODUCER,c,e,512);die(rd_kafka_init_transactions(p,10000),"init");return p;}
static void prod(rd_kafka_t*p,const char*t,const char*v){rd_kafka_producev(p,RD_KAFKA_V_TOPIC(t),RD_KAFKA_V_VALUE((void*)v,strlen(v)),RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),RD_KAFKA_V_END);}
static rd_kafka_t*cons(const char*group,const char*iso,const char*extra_k,const char*extra_v){rd_kafka_conf_t*c=conf();set(c,"group.id",group);set(c,"auto.offset.reset","earliest");set(c,"enable.auto.commit","false");set(c,"isolation.level",iso);set(c,"session.timeout.ms","6000");set(c,"heartbeat.interval.ms","500");if(extra_k)set(c,extra_k,extra_v);char e[512];rd_kafka_t*k=rd_kafka_new(RD_KAFKA_CONSUMER,c,e,512);rd_kafka_poll_set_consumer(k);return k;}
static void sub(rd_kafka_t*k,const char*t){rd_kafka_topic_partition_list_t*l=rd_kafka_topic_partition_list_new(1);rd_kafka_topic_partition_list_add(l,t,-1);rd_kafka_subscribe(k,l);rd_kafka_topic_partition_list_destroy(l);}
static void create(const char*t,int parts){rd_kafka_t*a=rd_kafka_new(RD_KAFKA_PRODUCER,conf(),NULL,0);rd_kafka_queue_t*q=rd_kafka_queue_new(a);rd_kafka_NewTopic_t*nt=rd_kafka_NewTopic_new(t,parts,-1,NULL,0);rd_kafka_CreateTopics(a,&nt,1,NULL,q);rd_kafka_event_t*ev=rd_kafka_queue_poll(q,10000);rd_kafka_event_destroy(ev);rd_kafka_NewTopic_destroy(nt);rd_kafka_queue_destroy(q);rd_kafka_destroy(a);}
static int assigned_count(rd_kafka_t*k){rd_kafka_topic_partition_list_t*l;rd_kafka_assignment(k,&l);int n=l->cnt;rd_kafka_topic_partition_list_destroy(l);return n;}
// polls until a message with value v arrives or seconds pass; returns seconds waited or -1
static double waitfor(rd_kafka_t*k,const char*v,double secs){double t0=now();while(now()-t0<secs){rd_kafka_message_t*m=rd_kafka_consumer_poll(k,200);if(!m)continue;if(!m->err&&m->len==strlen(v)&&!memcmp(m->payload,v,m->len)){rd_kafka_message_destroy(m);return now()-t0;}rd_kafka_message_destroy(m);}return -1;}
static long committed(rd_kafka_t*k,const char*t,int tmo,char*err){rd_kafka_topic_partition_list_t*l=rd_kafka_topic_partition_list_new(1);rd_kafka_topic_partition_list_add(l,t,0);rd_kafka_resp_err_t e=rd_kafka_committed(k,l,tmo);strcpy(err,rd_kafka_err2name(e?e:l->elems[0].err));long o=l->elems[0].offset;rd_kafka_topic_partition_list_destroy(l);return o;}
int main(int argc,char**argv){bs=argv[1];const char*test=argv[2];
 if(!strcmp(test,"txtimeout")){create("tt",1);rd_kafka_t*p1=txp("t1","3000");die(rd_kafka_begin_transaction(p1),"begin1");prod(p1,"tt","open");rd_kafka_flush(p1,5000);
  rd_kafka_t*p2=txp("t2",NULL);die(rd_kafka_begin_transaction(p2),"begin2");prod(p2,"tt","after");die(rd_kafka_commit_transaction(p2,10000),"commit2");
  rd_kafka_t*c=cons("g","read_committed",0,0);sub(c,"tt");double w=waitfor(c,"after",20);printf("txtimeout: read_committed saw record after an open txn (timeout 3s) after %.1fs (-1 = not in 20s)\n",w);
  rd_kafka_t*u=cons("g2","read_uncommitted",0,0);sub(u,"tt");printf("txtimeout: read_uncommitted saw the open txn's record after %.1fs\n",waitfor(u,"open",20));
  die(rd_kafka_commit_transaction(p1,10000),"commit1 after 20s+ (real Kafka: aborted by timeout -> fenced/abortable)");
  rd_kafka_t*p1b=txp("t1",NULL);printf("txtimeout: re-init of t1 done\n");rd_kafka_t*c3=cons("g3","read_committed",0,0);sub(c3,"tt");printf("txtimeout: after re-init read_committed saw 'after' after %.1fs\n",waitfor(c3,"after",20));return 0;}
 if(!strcmp(test,"stable")){create("in",1);rd_kafka_t*c=cons("app","read_committed",0,0);sub(c,"in");rd_kafka_t*pp=rd_kafka_new(RD_KAFKA_PRODUCER,conf(),NULL,0);prod(pp,"in","x");rd_kafka_flush(pp,5000);waitfor(c,"x",20);
  rd_kafka_t*p=txp("app-0",NULL);die(rd_kafka_begin_transaction(p),"begin");rd_kafka_topic_partition_list_t*l=rd_kafka_topic_partition_list_new(1);rd_kafka_topic_partition_list_add(l,"in",0)->offset=1;rd_kafka_consumer_group_metadata_t*gm=rd_kafka_consumer_group_metadata(c);die(rd_kafka_send_offsets_to_transaction(p,l,gm,10000),"send_offsets");
  rd_kafka_t*c2=cons("app","read_committed",0,0);char e[64];double t0=now();long o=committed(c2,"in",5000,e);printf("stable: committed() with a pending txn offset commit: offset %ld err %s after %.1fs (real Kafka: waits/UNSTABLE_OFFSET_COMMIT)\n",o,e,now()-t0);
  die(rd_kafka_commit_transaction(p,10000),"commit");o=committed(c2,"in",5000,e);printf("stable: after commit: offset %ld err %s\n",o,e);return 0;}
 if(!strcmp(test,"generation")){create("in",1);rd_kafka_t*a=cons("app","read_committed",0,0);sub(a,"in");double t0=now();while(assigned_count(a)==0&&now()-t0<20){rd_kafka_message_t*m=rd_kafka_consumer_poll(a,200);if(m)rd_kafka_message_destroy(m);}
  printf("generation: A assigned after %.1fs\n",now()-t0);rd_kafka_consumer_group_metadata_t*old=rd_kafka_consumer_group_metadata(a);rd_kafka_consumer_close(a);
  rd_kafka_t*b=cons("app","read_committed",0,0);sub(b,"in");t0=now();while(assigned_count(b)==0&&now()-t0<20){rd_kafka_message_t*m=rd_kafka_consumer_poll(b,200);if(m)rd_kafka_message_destroy(m);}printf("generation: B assigned after %.1fs\n",now()-t0);
  rd_kafka_t*p=txp("app-0",NULL);die(rd_kafka_begin_transaction(p),"begin");rd_kafka_topic_partition_list_t*l=rd_kafka_topic_partition_list_new(1);rd_kafka_topic_partition_list_add(l,"in",0)->offset=7;
  rd_kafka_error_t*e=rd_kafka_send_offsets_to_transaction(p,l,old,10000);printf("generation: send_offsets with the departed member's metadata: %s\n",e?rd_kafka_error_name(e):"accepted");die(e,"send_offsets");
  e=rd_kafka_commit_transaction(p,10000);printf("generation: commit: %s\n",e?rd_kafka_error_name(e):"committed");die(e,"commit");char er[64];printf("generation: committed offset now %ld\n",committed(b,"in",5000,er));return 0;}
 if(!strcmp(test,"sigkill")){create("in2",2);int fd[2];pipe(fd);pid_t child=fork();if(!child){rd_kafka_t*a=cons("app","read_committed",0,0);sub(a,"in2");while(assigned_count(a)==0){rd_kafka_message_t*m=rd_kafka_consumer_poll(a,200);if(m)rd_kafka_message_destroy(m);}write(fd[1],"a",1);for(;;){rd_kafka_message_t*m=rd_kafka_consumer_poll(a,200);if(m)rd_kafka_message_destroy(m);}}
  char ch;read(fd[0],&ch,1);kill(child,SIGKILL);waitpid(child,NULL,0);printf("sigkill: member A (session.timeout.ms=6000) killed\n");
  rd_kafka_t*b=cons("app","read_committed",0,0);sub(b,"in2");double t0=now();int n=0;while(now()-t0<40&&(n=assigned_count(b))<2){rd_kafka_message_t*m=rd_kafka_consumer_poll(b,200);if(m)rd_kafka_message_destroy(m);}printf("sigkill: B holds %d of 2 partitions after %.1fs\n",n,now()-t0);return 0;}
 if(!strcmp(test,"groups")){create("in3",2);rd_kafka_t*a=cons("app","read_committed",0,0);sub(a,"in3");rd_kafka_t*b=cons("app","read_committed",0,0);sub(b,"in3");double t0=now();while(now()-t0<30&&!(assigned_count(a)==1&&assigned_count(b)==1)){rd_kafka_message_t*m=rd_kafka_consumer_poll(a,100);if(m)rd_kafka_message_destroy(m);m=rd_kafka_consumer_poll(b,100);if(m)rd_kafka_message_destroy(m);}
  printf("groups: eager range, two members: %d + %d partitions after %.1fs\n",assigned_count(a),assigned_count(b),now()-t0);rd_kafka_consumer_close(b);t0=now();while(now()-t0<30&&assigned_count(a)!=2){rd_kafka_message_t*m=rd_kafka_consumer_poll(a,100);if(m)rd_kafka_message_destroy(m);}printf("groups: after B left, A holds %d after %.1fs\n",assigned_count(a),now()-t0);
  rd_kafka_t*c=cons("coop","read_committed","partition.assignment.strategy","cooperative-sticky");sub(c,"in3");t0=now();while(now()-t0<20&&assigned_count(c)<2){rd_kafka_message_t*m=rd_kafka_consumer_poll(c,100);if(m)rd_kafka_message_destroy(m);}printf("groups: cooperative-sticky consumer holds %d after %.1fs (protocol %s)\n",assigned_count(c),now()-t0,rd_kafka_rebalance_protocol(c));
  rd_kafka_t*pp=rd_kafka_new(RD_KAFKA_PRODUCER,conf(),NULL,0);prod(pp,"never-created","v");printf("groups: produce to a topic never created: flush %s\n",rd_kafka_err2name(rd_kafka_flush(pp,5000)));
  rd_kafka_metadata_t const*md;rd_kafka_metadata(pp,1,NULL,&md,5000);for(int i=0;i<md->topic_cnt;i++)printf("groups: topic %s (%d partitions)\n",md->topics[i].topic,md->topics[i].partition_cnt);return 0;}
 return 1;}
