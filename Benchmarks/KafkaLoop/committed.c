// Waits until consumer group GROUP has committed offsets summing to at least EXPECTED over the
// PARTITIONS partitions of TOPIC (with exactly-once, a commit makes the outputs of those records
// visible), then prints the seconds since it started. `make bench-kafka` times each case from its
// start to this moment, so both cases pay their group join and their last commit.
//
//   committed BOOTSTRAP GROUP TOPIC PARTITIONS EXPECTED [TIMEOUT_SECONDS]
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: committed BOOTSTRAP GROUP TOPIC PARTITIONS EXPECTED [TIMEOUT_SECONDS]\n");
        return 64;
    }
    char error[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], error, sizeof error) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "group.id", argv[2], error, sizeof error) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "committed: %s\n", error);
        return 1;
    }
    rd_kafka_t *consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
    if (!consumer) {
        fprintf(stderr, "committed: %s\n", error);
        return 1;
    }
    int partitions = atoi(argv[4]);
    long expected = atol(argv[5]);
    double timeout = argc > 6 ? atof(argv[6]) : 600;
    double start = now_seconds();
    while (now_seconds() - start < timeout) {
        rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(partitions);
        for (int p = 0; p < partitions; p++) rd_kafka_topic_partition_list_add(list, argv[3], p);
        long sum = 0;
        if (rd_kafka_committed(consumer, list, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            for (int i = 0; i < list->cnt; i++)
                if (list->elems[i].offset > 0) sum += list->elems[i].offset;
        }
        rd_kafka_topic_partition_list_destroy(list);
        if (sum >= expected) {
            printf("%.3f\n", now_seconds() - start);
            rd_kafka_destroy(consumer);
            return 0;
        }
        usleep(20000);
    }
    fprintf(stderr, "committed: group %s did not commit %ld records of %s within %.0f s\n", argv[2], expected, argv[3],
        timeout);
    return 1;
}
