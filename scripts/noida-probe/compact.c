// Probes compaction, retention and topic deletion: see run.sh and docs/kafka.md. Usage: compact BOOTSTRAP
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <stdlib.h>
int main(int argc,char**argv){char e[512];rd_kafka_conf_t*c=rd_kafka_conf_new();rd_kafka_conf_set(c,"bootstrap.servers",argv[1],e,512);rd_kafka_t*a=rd_kafka_new(RD_KAFKA_PRODUCER,c,e,512);
 rd_kafka_queue_t*q=rd_kafka_queue_new(a);rd_kafka_NewTopic_t*nt[2];nt[0]=rd_kafka_NewTopic_new("compacted",1,-1,NULL,0);rd_kafka_NewTopic_set_config(nt[0],"cleanup.policy","compact");rd_kafka_NewTopic_set_config(nt[0],"segment.ms","100");rd_kafka_NewTopic_set_config(nt[0],"min.cleanable.dirty.ratio","0.01");
 nt[1]=rd_kafka_NewTopic_new("retained",1,-1,NULL,0);rd_kafka_NewTopic_set_config(nt[1],"retention.ms","1000");rd_kafka_NewTopic_set_config(nt[1],"segment.ms","100");
 rd_kafka_CreateTopics(a,nt,2,NULL,q);rd_kafka_event_destroy(rd_kafka_queue_poll(q,10000));
 for(int i=0;i<2000;i++){char v[16];sprintf(v,"%d",i);rd_kafka_producev(a,RD_KAFKA_V_TOPIC("compacted"),RD_KAFKA_V_KEY("k",1),RD_KAFKA_V_VALUE(v,strlen(v)),RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),RD_KAFKA_V_END);
  rd_kafka_producev(a,RD_KAFKA_V_TOPIC("retained"),RD_KAFKA_V_VALUE(v,strlen(v)),RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),RD_KAFKA_V_END);}
 rd_kafka_flush(a,10000);
 // delete topics probe
 for(int s=0;s<=10;s+=10){int64_t lo,hi,lo2,hi2;rd_kafka_query_watermark_offsets(a,"compacted",0,&lo,&hi,5000);rd_kafka_query_watermark_offsets(a,"retained",0,&lo2,&hi2,5000);printf("after %ds: compacted low %ld high %ld; retained(1s) low %ld high %ld\n",s,(long)lo,(long)hi,(long)lo2,(long)hi2);if(s<10)sleep(10);}
 {rd_kafka_conf_t*cc=rd_kafka_conf_new();rd_kafka_conf_set(cc,"bootstrap.servers",getenv("BS"),e,512);rd_kafka_conf_set(cc,"group.id","count",e,512);rd_kafka_t*k=rd_kafka_new(RD_KAFKA_CONSUMER,cc,e,512);rd_kafka_topic_partition_list_t*l=rd_kafka_topic_partition_list_new(1);rd_kafka_topic_partition_list_add(l,"compacted",0)->offset=RD_KAFKA_OFFSET_BEGINNING;rd_kafka_assign(k,l);int cnt=0;long last=-1;for(int i=0;i<20000&&last<1999;i++){rd_kafka_message_t*m=rd_kafka_consumer_poll(k,100);if(!m)continue;if(!m->err){cnt++;last=m->offset;}rd_kafka_message_destroy(m);}printf("compacted topic: read %d records up to offset %ld\n",cnt,last);}
 rd_kafka_DeleteTopic_t*dt=rd_kafka_DeleteTopic_new("retained");rd_kafka_DeleteTopics(a,&dt,1,NULL,q);rd_kafka_event_t*ev=rd_kafka_queue_poll(q,10000);size_t n;const rd_kafka_topic_result_t**r=rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev),&n);printf("delete: %s\n",rd_kafka_err2name(rd_kafka_topic_result_error(r[0])));
 printf("delete topic: event err %s\n",rd_kafka_err2name(rd_kafka_event_error(ev)));return 0;}
