internal import CStreamsRdKafka

/// librdkafka configuration properties (`bootstrap.servers`, `group.id`, `transactional.id`, …)
/// for a ``KafkaConsumer``, ``KafkaProducer`` or ``KafkaAdminClient``.
///
/// Any property librdkafka documents in `CONFIGURATION.md` can be set; names and values are
/// checked when the client is created (an unknown name or a bad value throws a ``KafkaError`` of
/// class ``KafkaError/Class/permanent`` naming the property).
public struct KafkaConfiguration: Sendable, Hashable {
    /// The properties, by name.
    public var properties: [String: String]

    /// Creates a configuration from properties.
    ///
    /// - Parameters:
    ///   - bootstrapServers: `bootstrap.servers`, for example `"127.0.0.1:9092"`.
    ///   - properties: More properties; they win over `bootstrapServers` if they also set it.
    public init(bootstrapServers: String, _ properties: [String: String] = [:]) {
        self.properties = ["bootstrap.servers": bootstrapServers].merging(properties) { _, new in new }
    }

    /// The value of a property, or `nil` when it is not set here (librdkafka's default applies).
    public subscript(name: String) -> String? {
        get { properties[name] }
        set { properties[name] = newValue }
    }

    /// Builds an `rd_kafka_conf_t`; the caller owns it (it passes to `rd_kafka_new` on success).
    func makeConf(defaults: [String: String]) throws(KafkaError) -> OpaquePointer {
        let conf = rd_kafka_conf_new()!
        let all = defaults.merging(properties) { _, set in set }
        // Sorted, so the first bad property reported is the same on every run.
        for (name, value) in all.sorted(by: { $0.key < $1.key }) {
            let failure: String? = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 512) { buffer in
                buffer[0] = 0
                let result = rd_kafka_conf_set(conf, name, value, buffer.baseAddress, 512)
                return result == RD_KAFKA_CONF_OK ? nil : String(cString: buffer.baseAddress!)
            }
            if let failure {
                rd_kafka_conf_destroy(conf)
                throw KafkaError(
                    code: .invalidArgument, errorClass: .permanent, message: failure,
                    operation: "configuration property \(name)=\(value)")
            }
        }
        return conf
    }
}
