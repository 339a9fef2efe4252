// Writes the `make bench-kafka` workload: RECORDS JSON order events to TOPIC (created beforehand
// with its partitions), keyed by order id so that a key's repeats land in one partition; about
// 10% of the events repeat an earlier order (a business duplicate from another producer), with a
// later event time. The topic is created first with PARTITIONS partitions (default 3; an existing
// topic is kept). Idempotent producer, acks=all; exits once every record is delivered.
//
//   produce BOOTSTRAP TOPIC RECORDS [PARTITIONS]
#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t state = 7;
static uint64_t next_random(void) {  // SplitMix64, as `dedup generate`
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: produce BOOTSTRAP TOPIC RECORDS [PARTITIONS]\n");
        return 64;
    }
    char error[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], error, sizeof error) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", error, sizeof error) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "linger.ms", "20", error, sizeof error) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "produce: %s\n", error);
        return 1;
    }
    rd_kafka_t *producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    if (!producer) {
        fprintf(stderr, "produce: %s\n", error);
        return 1;
    }
    int partitions = argc > 4 ? atoi(argv[4]) : 3;
    rd_kafka_NewTopic_t *new_topic = rd_kafka_NewTopic_new(argv[2], partitions, 1, error, sizeof error);
    if (!new_topic) {
        fprintf(stderr, "produce: %s\n", error);
        return 1;
    }
    rd_kafka_queue_t *queue = rd_kafka_queue_new(producer);
    rd_kafka_CreateTopics(producer, &new_topic, 1, NULL, queue);
    rd_kafka_event_t *event = rd_kafka_queue_poll(queue, 30000);
    if (!event) {
        fprintf(stderr, "produce: no answer to CreateTopics\n");
        return 1;
    }
    size_t count = 0;
    const rd_kafka_topic_result_t **created =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
    if (count == 1 && rd_kafka_topic_result_error(created[0]) &&
        rd_kafka_topic_result_error(created[0]) != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        fprintf(stderr, "produce: creating %s: %s\n", argv[2], rd_kafka_topic_result_error_string(created[0]));
        return 1;
    }
    rd_kafka_event_destroy(event);
    rd_kafka_queue_destroy(queue);
    rd_kafka_NewTopic_destroy(new_topic);
    rd_kafka_topic_t *topic = rd_kafka_topic_new(producer, argv[2], NULL);
    long records = atol(argv[3]);
    int64_t ts = 1767225600000LL;
    for (long i = 0; i < records; i++) {
        ts += (int64_t)(next_random() % 2);
        uint64_t order = (next_random() % 10 == 0 && i > 0) ? next_random() % (uint64_t)i : (uint64_t)i;
        char key[32], value[160];
        int key_length = snprintf(key, sizeof key, "o-%09llu", (unsigned long long)order);
        int value_length = snprintf(value, sizeof value,
            "{\"order\":{\"id\":\"%s\",\"customer\":\"c-%05llu\"},\"ts\":%lld,\"amount\":%llu}", key,
            (unsigned long long)(order % 50000), (long long)ts, (unsigned long long)(next_random() % 100000));
        while (rd_kafka_produce(topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, value, (size_t)value_length, key,
                   (size_t)key_length, NULL) != 0) {
            rd_kafka_poll(producer, 10);
        }
        rd_kafka_poll(producer, 0);
    }
    rd_kafka_resp_err_t err = rd_kafka_flush(producer, 120000);
    if (err) {
        fprintf(stderr, "produce: flush: %s\n", rd_kafka_err2str(err));
        return 1;
    }
    rd_kafka_topic_destroy(topic);
    rd_kafka_destroy(producer);
    printf("produced=%ld\n", records);
    return 0;
}
