#ifndef C_STREAMS_RDKAFKA_SHIM_H
#define C_STREAMS_RDKAFKA_SHIM_H

// The one C header of swift-dedup's librdkafka binding. Only the StreamsKafka target imports it.
#include <librdkafka/rdkafka.h>

// Why this shim exists: rd_kafka_producev is variadic (Swift cannot call C variadic functions) and
// rd_kafka_produceva takes an array of anonymous unions that Swift imports awkwardly. This function
// produces one message to the topic handle `rkt` (from rd_kafka_topic_new: no topic name to look
// up per message) with RD_KAFKA_MSG_F_COPY (the payload is copied, so the caller's buffers may be
// reused as soon as it returns).
//
// Ownership: `headers` (may be NULL) passes to librdkafka when the call succeeds; on failure the
// caller still owns it and must destroy it (rd_kafka_producev's documented contract).
// `tag` comes back as the message's `_private` (msg_opaque) in its delivery report: the Kafka
// engine numbers its changelogs with it to learn the offset of each changelog's last record.
static inline rd_kafka_resp_err_t c_streams_rdkafka_produce(
    rd_kafka_t *rk, rd_kafka_topic_t *rkt, int32_t partition,
    const void *key, size_t key_size, const void *value, size_t value_size,
    int64_t timestamp_ms, rd_kafka_headers_t *headers, intptr_t tag) {
    if (headers) {
        return rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_KEY(key, key_size), RD_KAFKA_V_VALUE((void *)value, value_size),
                                 RD_KAFKA_V_TIMESTAMP(timestamp_ms), RD_KAFKA_V_HEADERS(headers),
                                 RD_KAFKA_V_OPAQUE((void *)tag), RD_KAFKA_V_END);
    }
    return rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_KEY(key, key_size), RD_KAFKA_V_VALUE((void *)value, value_size),
                             RD_KAFKA_V_TIMESTAMP(timestamp_ms), RD_KAFKA_V_OPAQUE((void *)tag), RD_KAFKA_V_END);
}

#endif
