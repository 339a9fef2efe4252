// The C baseline of `make bench-kafka` (issue 13 item 5): a consume-transform-produce loop over
// librdkafka with exactly-once transactions, the shape of Kafka Streams' exactly_once_v2 and of
// `dedup kafka`, without the runtime: it reads the input topic in a consumer group
// (read_committed, no auto commit), keeps the first record of each key (an open-addressing set of
// key bytes, no window, no state store, no changelog), produces kept records to the output topic
// in the same partition (create OUTPUT_TOPIC with as many partitions as the input), and every
// COMMIT_MS commits the consumed offsets with the outputs (send_offsets_to_transaction +
// commit_transaction). It stops after EXPECTED input records.
//
// PRODUCERS (environment) chooses the transactions' shape:
// - `one` (default): one transactional producer (transactional.id = <GROUP>-loop) and one
//   transaction per interval over every assigned partition: the fewest, largest transactions, so
//   the least the broker can be asked to do per record.
// - `per-partition`: the shape of `dedup kafka` and of Kafka Streams' per-task producers (its
//   exactly_once / EOS-alpha): one transactional producer per assigned input partition
//   (transactional.id = <GROUP>-<partition>, created and initialized at assignment, before the
//   partition's committed offset is read, as the engine does for a task), each partition's kept
//   records produced by its own producer, and every COMMIT_MS each producer commits its own
//   transaction, one after the other, with only its partition's offset (and the group metadata of
//   the one consumer). With 3 partitions: 3 transactions per interval, each a third the size.
//
//   [PRODUCERS=one|per-partition] loop BOOTSTRAP GROUP INPUT_TOPIC OUTPUT_TOPIC EXPECTED [COMMIT_MS]
//
// CHANGELOG_TOPIC (environment; create it with as many partitions as the input) adds what the
// engine's transactions also carry: per kept record a changelog record (key = the record key + its
// 8-byte timestamp, a 1-byte value, as the engine's store entry) to that topic's partition of the
// input partition, by the same producer in the same transaction. With `per-partition` this is the
// engine's transaction size in records and bytes, not only in shape.
//
// Prints "records=N kept=K seconds=S records_per_second=R producers=P transactions=T" on success.
#include <librdkafka/rdkafka.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void die(const char *what, const char *detail) {
    fprintf(stderr, "loop: %s: %s\n", what, detail);
    exit(1);
}

static void check_error(const char *what, rd_kafka_error_t *error) {
    if (error) {
        fprintf(stderr, "loop: %s: %s\n", what, rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        exit(1);
    }
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

// An open-addressing set of key byte strings (FNV-1a hash, linear probing, grows at half full).
typedef struct { uint64_t hash; char *bytes; size_t length; } slot_t;
static slot_t *slots;
static size_t slot_count = 1 << 16, used;

static uint64_t fnv1a(const void *data, size_t length) {
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < length; i++) { h ^= p[i]; h *= 1099511628211ULL; }
    return h | 1;  // 0 marks an empty slot
}

static int insert(const void *key, size_t length) {
    if (2 * (used + 1) > slot_count) {
        size_t old_count = slot_count;
        slot_t *old = slots;
        slot_count *= 2;
        slots = calloc(slot_count, sizeof(slot_t));
        for (size_t i = 0; i < old_count; i++) {
            if (!old[i].hash) continue;
            size_t j = old[i].hash & (slot_count - 1);
            while (slots[j].hash) j = (j + 1) & (slot_count - 1);
            slots[j] = old[i];
        }
        free(old);
    }
    uint64_t h = fnv1a(key, length);
    size_t j = h & (slot_count - 1);
    while (slots[j].hash) {
        if (slots[j].hash == h && slots[j].length == length && memcmp(slots[j].bytes, key, length) == 0) return 0;
        j = (j + 1) & (slot_count - 1);
    }
    slots[j].hash = h;
    slots[j].bytes = malloc(length ? length : 1);
    memcpy(slots[j].bytes, key, length);
    slots[j].length = length;
    used++;
    return 1;
}

// The partitions a run can be assigned (the partition number indexes the tables below).
#define MAX_PARTITIONS 64

// A transactional producer with its output topic handle and its open transaction. In `one` mode
// the single unit carries every partition; in `per-partition` mode partition p has unit p.
typedef struct {
    rd_kafka_t *producer;  // NULL until created
    rd_kafka_topic_t *out;
    rd_kafka_topic_t *changelog;  // NULL without CHANGELOG_TOPIC
    int open;  // a transaction is open (begun at the first record after a commit)
} unit_t;
static unit_t units[MAX_PARTITIONS];
static int per_partition;
// The next offset to commit per partition, -1 before its first record.
static int64_t next_offset[MAX_PARTITIONS];
// What the rebalance callback needs to create a partition's producer.
static const char *bootstrap_servers, *group_id, *output_topic, *changelog_topic;

static unit_t *unit_of(int partition) { return per_partition ? &units[partition] : &units[0]; }

static rd_kafka_conf_t *configuration(const char *bootstrap) {
    char error[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, error, sizeof error) != RD_KAFKA_CONF_OK)
        die("bootstrap.servers", error);
    return conf;
}

static void set(rd_kafka_conf_t *conf, const char *name, const char *value) {
    char error[512];
    if (rd_kafka_conf_set(conf, name, value, error, sizeof error) != RD_KAFKA_CONF_OK) die(name, error);
}

// Creates the unit's transactional producer and runs init_transactions (which fences an older
// producer with the same transactional.id and ends its open transaction).
static void start_unit(unit_t *unit, const char *transactional_id) {
    char error[512];
    rd_kafka_conf_t *conf = configuration(bootstrap_servers);
    set(conf, "transactional.id", transactional_id);
    set(conf, "linger.ms", "5");  // librdkafka's default, which `dedup kafka` keeps
    unit->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    if (!unit->producer) die("producer", error);
    check_error("init_transactions", rd_kafka_init_transactions(unit->producer, 30000));
    unit->out = rd_kafka_topic_new(unit->producer, output_topic, NULL);
    if (changelog_topic) unit->changelog = rd_kafka_topic_new(unit->producer, changelog_topic, NULL);
}

// On assignment, start each partition at its committed offset, or at its low watermark without one
// (as the Kafka engine does; noida-db's answer to librdkafka's own start-offset fetch is not
// usable, docs/kafka.md). In `per-partition` mode each new partition's producer is created and
// initialized first, as the engine does for a task before reading its offsets. The benchmark runs
// one member, so partitions are only revoked when the loop closes, after its last commit.
static void rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *partitions,
    void *opaque) {
    (void)opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; per_partition && i < partitions->cnt; i++) {
            int32_t p = partitions->elems[i].partition;
            if (p >= MAX_PARTITIONS) die("assignment", "more than 64 input partitions");
            if (units[p].producer) continue;
            char transactional_id[256];
            snprintf(transactional_id, sizeof transactional_id, "%s-%d", group_id, (int)p);
            start_unit(&units[p], transactional_id);
        }
        rd_kafka_committed(rk, partitions, 10000);
        // Without a committed offset, the partition's first offset itself (its low watermark),
        // as the engine does: librdkafka looks a logical offset (BEGINNING) up only once the
        // partition's leader is known, and otherwise retries 500 ms later.
        for (int i = 0; i < partitions->cnt; i++) {
            rd_kafka_topic_partition_t *p = &partitions->elems[i];
            if (p->offset >= 0) continue;
            int64_t low = 0, high = 0;
            if (rd_kafka_query_watermark_offsets(rk, p->topic, p->partition, &low, &high, 10000) == 0)
                p->offset = low;
            else
                p->offset = RD_KAFKA_OFFSET_BEGINNING;
        }
        rd_kafka_assign(rk, partitions);
    } else {
        rd_kafka_assign(rk, NULL);
    }
}

// Commits the unit's open transaction with the next offsets of the partitions it carries.
static void commit(unit_t *unit, const char *input, rd_kafka_consumer_group_metadata_t *metadata) {
    rd_kafka_topic_partition_list_t *offsets = rd_kafka_topic_partition_list_new(8);
    for (int p = 0; p < MAX_PARTITIONS; p++)
        if (unit_of(p) == unit && next_offset[p] >= 0)
            rd_kafka_topic_partition_list_add(offsets, input, p)->offset = next_offset[p];
    check_error("send_offsets_to_transaction",
        rd_kafka_send_offsets_to_transaction(unit->producer, offsets, metadata, 30000));
    rd_kafka_topic_partition_list_destroy(offsets);
    check_error("commit_transaction", rd_kafka_commit_transaction(unit->producer, 30000));
    unit->open = 0;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr,
            "usage: [PRODUCERS=one|per-partition] loop BOOTSTRAP GROUP INPUT_TOPIC OUTPUT_TOPIC EXPECTED [COMMIT_MS]\n");
        return 64;
    }
    const char *mode = getenv("PRODUCERS") ? getenv("PRODUCERS") : "one";
    if (strcmp(mode, "per-partition") == 0) per_partition = 1;
    else if (strcmp(mode, "one") != 0) {
        fprintf(stderr, "loop: PRODUCERS=%s: use one or per-partition\n", mode);
        return 64;
    }
    bootstrap_servers = argv[1];
    group_id = argv[2];
    const char *input = argv[3];
    output_topic = argv[4];
    changelog_topic = getenv("CHANGELOG_TOPIC");
    long expected = atol(argv[5]);
    double commit_seconds = (argc > 6 ? atof(argv[6]) : 100.0) / 1000.0;
    char error[512];
    slots = calloc(slot_count, sizeof(slot_t));
    for (int p = 0; p < MAX_PARTITIONS; p++) next_offset[p] = -1;

    rd_kafka_conf_t *cconf = configuration(bootstrap_servers);
    set(cconf, "group.id", group_id);
    set(cconf, "isolation.level", "read_committed");
    set(cconf, "enable.auto.commit", "false");
    set(cconf, "auto.offset.reset", "earliest");
    set(cconf, "partition.assignment.strategy", "range");  // as StreamsKafka; noida-db takes one protocol
    if (getenv("LOOP_RDKAFKA_DEBUG")) set(cconf, "debug", getenv("LOOP_RDKAFKA_DEBUG"));
    rd_kafka_conf_set_rebalance_cb(cconf, rebalance);
    rd_kafka_t *consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, error, sizeof error);
    if (!consumer) die("consumer", error);
    rd_kafka_poll_set_consumer(consumer);

    if (!per_partition) {
        char transactional_id[256];
        snprintf(transactional_id, sizeof transactional_id, "%s-loop", group_id);
        start_unit(&units[0], transactional_id);
    }

    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, input, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer, topics);
    if (err) die("subscribe", rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(topics);

    long records = 0, kept = 0, transactions = 0;
    double start = 0, last_commit = 0;

    while (records < expected) {
        rd_kafka_message_t *message = rd_kafka_consumer_poll(consumer, 100);
        double now = now_seconds();
        static double last_report = 0;
        if (getenv("LOOP_DEBUG") && now - last_report > 1) {
            fprintf(stderr, "loop: %ld records, %ld kept, %ld transactions\n", records, kept, transactions);
            last_report = now;
        }
        if (message) {
            if (message->err) {
                if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    fprintf(stderr, "loop: consumer: %s\n", rd_kafka_message_errstr(message));
                rd_kafka_message_destroy(message);
                continue;
            }
            if (message->partition >= MAX_PARTITIONS) die("consume", "more than 64 input partitions");
            unit_t *unit = unit_of(message->partition);
            if (records == 0) { start = now; last_commit = now; }
            if (!unit->open) { check_error("begin_transaction", rd_kafka_begin_transaction(unit->producer)); unit->open = 1; }
            records++;
            if (insert(message->key, message->key_len)) {
                kept++;
                if (unit->changelog) {
                    char key[512];
                    size_t length = message->key_len < sizeof key - 8 ? message->key_len : sizeof key - 8;
                    memcpy(key, message->key, length);
                    int64_t timestamp = rd_kafka_message_timestamp(message, NULL);
                    for (int b = 0; b < 8; b++) key[length + b] = (char)(timestamp >> (56 - 8 * b));
                    while (rd_kafka_produce(unit->changelog, message->partition, RD_KAFKA_MSG_F_COPY, "\1", 1, key,
                               length + 8, NULL) != 0) {
                        rd_kafka_resp_err_t failure = rd_kafka_last_error();
                        if (failure != RD_KAFKA_RESP_ERR__QUEUE_FULL) die("produce", rd_kafka_err2str(failure));
                        rd_kafka_poll(unit->producer, 10);
                    }
                }
                while (rd_kafka_produce(unit->out, message->partition, RD_KAFKA_MSG_F_COPY, message->payload,
                           message->len, message->key, message->key_len, NULL) != 0) {
                    rd_kafka_resp_err_t failure = rd_kafka_last_error();
                    if (failure != RD_KAFKA_RESP_ERR__QUEUE_FULL) die("produce", rd_kafka_err2str(failure));
                    rd_kafka_poll(unit->producer, 10);
                }
            }
            next_offset[message->partition] = message->offset + 1;
            rd_kafka_message_destroy(message);
        }
        // Serve each producer's events (delivery reports, errors) without waiting.
        for (int u = 0; u < MAX_PARTITIONS; u++)
            if (units[u].producer) rd_kafka_poll(units[u].producer, 0);
        if (now - last_commit >= commit_seconds || records >= expected) {
            // Every open transaction, one after the other (as `dedup kafka` commits its tasks).
            rd_kafka_consumer_group_metadata_t *metadata = NULL;
            for (int u = 0; u < MAX_PARTITIONS; u++) {
                if (!units[u].open) continue;
                if (!metadata) metadata = rd_kafka_consumer_group_metadata(consumer);
                double begun = now_seconds();
                commit(&units[u], input, metadata);
                transactions++;
                if (getenv("LOOP_DEBUG"))
                    fprintf(stderr, "loop: %.3f s: unit %d committed in %.1f ms\n", begun - start, u,
                        (now_seconds() - begun) * 1000);
            }
            if (metadata) {
                rd_kafka_consumer_group_metadata_destroy(metadata);
                last_commit = now_seconds();
            }
        }
    }
    double seconds = now_seconds() - start;
    int producers = 0;
    for (int u = 0; u < MAX_PARTITIONS; u++) producers += units[u].producer != NULL;
    printf("records=%ld kept=%ld seconds=%.3f records_per_second=%.0f producers=%d transactions=%ld\n", records,
        kept, seconds, seconds > 0 ? records / seconds : 0, producers, transactions);
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    for (int u = 0; u < MAX_PARTITIONS; u++) {
        if (!units[u].producer) continue;
        rd_kafka_topic_destroy(units[u].out);
        if (units[u].changelog) rd_kafka_topic_destroy(units[u].changelog);
        rd_kafka_destroy(units[u].producer);
    }
    return 0;
}
