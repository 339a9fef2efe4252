internal import CStreamsRdKafka

/// Creation of `rd_kafka_t` handles, shared by the consumer, the producer and the admin client.
enum KafkaClient {
    /// Creates a client of `type` from `conf`.
    ///
    /// Ownership: `rd_kafka_new` takes `conf` only when it succeeds; on failure it is destroyed here.
    static func make(_ type: rd_kafka_type_t, conf: OpaquePointer, operation: String) throws(KafkaError)
        -> OpaquePointer
    {
        let handle: OpaquePointer?
        let failure: String
        (handle, failure) = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 512) { buffer in
            buffer[0] = 0
            let handle = rd_kafka_new(type, conf, buffer.baseAddress, 512)
            return (handle, String(cString: buffer.baseAddress!))
        }
        guard let handle else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(code: .invalidArgument, errorClass: .permanent, message: failure, operation: operation)
        }
        return handle
    }
}

extension Duration {
    /// The duration in whole milliseconds for librdkafka's `int timeout_ms` arguments, rounded up
    /// (so a positive duration never becomes "do not wait") and capped at `Int32.max`.
    var kafkaMilliseconds: Int32 {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        let ms = seconds.multipliedReportingOverflow(by: 1000)
        if ms.overflow || ms.partialValue > Int64(Int32.max) { return Int32.max }
        let total = ms.partialValue + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(min(total, Int64(Int32.max)))
    }
}
