internal import CStreamsRdKafka

/// An error from librdkafka or from the broker behind it, with librdkafka's error code, its
/// name, its message, and the ``Class`` that says what the caller must do next.
///
/// Every `rd_kafka_resp_err_t` and every `rd_kafka_error_t` the wrappers meet becomes one
/// `KafkaError`. The class decides recovery, in the order librdkafka's transactional API defines:
/// a fenced producer is a zombie (``Class/fenced``), a fatal error makes the client unusable
/// (``Class/fatal``), an abortable error needs `abort_transaction` (``Class/abortable``), a
/// retriable error may succeed when the same call is repeated (``Class/retriable``), anything else
/// leaves the client usable but will not succeed by retrying (``Class/permanent``).
///
/// Catch by pattern on ``code`` (`catch let e where e.code == .topicAlreadyExists`) or on the class.
public struct KafkaError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A librdkafka error code (`rd_kafka_resp_err_t`): negative values are client-side errors
    /// (`RD_KAFKA_RESP_ERR__*`), positive values are the broker's Kafka protocol error codes.
    ///
    /// Extensible: every code librdkafka has can be represented, the constants below are the ones
    /// callers match on.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        /// The numeric `rd_kafka_resp_err_t` value.
        public let rawValue: Int32

        /// Wraps a numeric `rd_kafka_resp_err_t` value.
        public init(rawValue: Int32) { self.rawValue = rawValue }

        init(_ err: rd_kafka_resp_err_t) { self.rawValue = err.rawValue }

        /// librdkafka's name of the code, for example `_FENCED` or `TOPIC_ALREADY_EXISTS`.
        public var name: String { String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(rawValue))) }

        /// The name of the code.
        public var description: String { name }

        /// `RD_KAFKA_RESP_ERR__FENCED`: this producer instance was fenced by a newer one with the
        /// same `transactional.id`.
        public static let fenced = Code(RD_KAFKA_RESP_ERR__FENCED)
        /// `RD_KAFKA_RESP_ERR_PRODUCER_FENCED`: the broker says a newer producer epoch exists.
        public static let producerFenced = Code(RD_KAFKA_RESP_ERR_PRODUCER_FENCED)
        /// `RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH`: the producer's epoch is older than the
        /// broker's (fencing as reported by older brokers).
        public static let invalidProducerEpoch = Code(RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH)
        /// `RD_KAFKA_RESP_ERR__FATAL`: a fatal error was raised; the underlying code is in the error.
        public static let fatal = Code(RD_KAFKA_RESP_ERR__FATAL)
        /// `RD_KAFKA_RESP_ERR__TIMED_OUT`: the operation did not finish in time.
        public static let timedOut = Code(RD_KAFKA_RESP_ERR__TIMED_OUT)
        /// `RD_KAFKA_RESP_ERR__QUEUE_FULL`: the producer's local queue is full.
        public static let queueFull = Code(RD_KAFKA_RESP_ERR__QUEUE_FULL)
        /// `RD_KAFKA_RESP_ERR__STATE`: the call is not valid in the client's current state.
        public static let state = Code(RD_KAFKA_RESP_ERR__STATE)
        /// `RD_KAFKA_RESP_ERR__INVALID_ARG`: an argument was rejected.
        public static let invalidArgument = Code(RD_KAFKA_RESP_ERR__INVALID_ARG)
        /// `RD_KAFKA_RESP_ERR__PARTITION_EOF`: the consumer reached the end of a partition.
        public static let partitionEOF = Code(RD_KAFKA_RESP_ERR__PARTITION_EOF)
        /// `RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART`: the topic or partition does not exist.
        public static let unknownTopicOrPartition = Code(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
        /// `RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC`: the client does not know the topic.
        public static let unknownTopic = Code(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC)
        /// `RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS`: a topic to create exists already.
        public static let topicAlreadyExists = Code(RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        /// `RD_KAFKA_RESP_ERR__INVALID_TYPE`: a configuration property has a bad value, or the
        /// call does not apply to this kind of client.
        public static let invalidType = Code(RD_KAFKA_RESP_ERR__INVALID_TYPE)
        /// `RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION`: the partition does not exist in the topic.
        public static let unknownPartition = Code(RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION)
        /// `RD_KAFKA_RESP_ERR__MSG_TIMED_OUT`: a produced message was not delivered in `message.timeout.ms`.
        public static let messageTimedOut = Code(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT)
        /// `RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE`: a produced message exceeds the broker's limit.
        public static let messageSizeTooLarge = Code(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)
        /// `RD_KAFKA_RESP_ERR__NOT_IMPLEMENTED`: the call or configuration is not supported here.
        public static let notImplemented = Code(RD_KAFKA_RESP_ERR__NOT_IMPLEMENTED)
        /// `RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST`: the consumer lost its partitions to the group.
        public static let assignmentLost = Code(RD_KAFKA_RESP_ERR__ASSIGNMENT_LOST)
    }

    /// What the caller must do about an error.
    public enum Class: String, Sendable, Hashable, CaseIterable {
        /// A newer instance with the same `transactional.id` took over: this instance is a zombie.
        /// Close the task without committing (its transaction is aborted by the broker) and create
        /// a new producer if the task comes back. Java's `ProducerFencedException` / `TaskMigratedException`.
        case fenced
        /// The client cannot be used any more (`rd_kafka_error_is_fatal`); destroy it and make a new one.
        case fatal
        /// The current transaction failed (`rd_kafka_error_txn_requires_abort`): call
        /// `abortTransaction`, rewind the input to the committed offsets and process again.
        case abortable
        /// A transient condition (`rd_kafka_error_is_retriable`, a timeout, a full queue): the same
        /// call may succeed if repeated.
        case retriable
        /// The call failed and retrying it will not help (bad configuration, unknown topic, a
        /// rejected request), but the client remains usable.
        case permanent
    }

    /// librdkafka's error code.
    public let code: Code
    /// What the caller must do next.
    public let errorClass: Class
    /// librdkafka's (or the broker's) human-readable message.
    public let message: String
    /// The call or step that failed, for example `"commit_transaction"` or `"create topic orders"`.
    public let operation: String

    /// librdkafka's name of ``code``, for example `_FENCED`.
    public var codeName: String { code.name }

    /// Creates an error with an explicit class.
    package init(code: Code, errorClass: Class, message: String, operation: String) {
        self.code = code
        self.errorClass = errorClass
        self.message = message
        self.operation = operation
    }

    /// Whether `code` means this producer was fenced by a newer one.
    static func isFencing(_ code: Code) -> Bool {
        code == .fenced || code == .producerFenced || code == .invalidProducerEpoch
    }

    /// The class of a bare response code (no `rd_kafka_error_t` flags to go by).
    static func classify(_ code: Code, fatal: Bool = false) -> Class {
        if isFencing(code) { return .fenced }
        if fatal || code == .fatal { return .fatal }
        switch code {
        case .timedOut, .queueFull, .messageTimedOut: return .retriable
        default: break
        }
        switch rd_kafka_resp_err_t(code.rawValue) {
        case RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR__WAIT_COORD,
            RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
            RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
            RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION, RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS,
            RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS, RD_KAFKA_RESP_ERR__IN_PROGRESS,
            RD_KAFKA_RESP_ERR__RETRY, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
            RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND, RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT:
            return .retriable
        default:
            return .permanent
        }
    }

    /// An error from a bare response code. When the code is `_FATAL` and `client` is given, the
    /// underlying fatal error (for example `_FENCED`) is read from the client.
    init(_ err: rd_kafka_resp_err_t, operation: String, client: OpaquePointer? = nil, message: String? = nil) {
        var code = Code(err)
        var text = message ?? String(cString: rd_kafka_err2str(err))
        if code == .fatal, let client {
            let underlying = Self.fatalError(of: client)
            if let underlying {
                code = underlying.code
                text = underlying.message
            }
        }
        self.init(
            code: code, errorClass: Self.classify(code, fatal: Code(err) == .fatal), message: text, operation: operation
        )
    }

    /// Consumes (destroys) an `rd_kafka_error_t`, keeping its code, name, message and class.
    init(consuming error: OpaquePointer, operation: String) {
        defer { rd_kafka_error_destroy(error) }
        let code = Code(rd_kafka_error_code(error))
        let message = String(cString: rd_kafka_error_string(error))
        let errorClass: Class
        if Self.isFencing(code) {
            errorClass = .fenced
        } else if rd_kafka_error_is_fatal(error) != 0 {
            errorClass = .fatal
        } else if rd_kafka_error_txn_requires_abort(error) != 0 {
            errorClass = .abortable
        } else if rd_kafka_error_is_retriable(error) != 0 {
            errorClass = .retriable
        } else {
            errorClass = Self.classify(code)
        }
        self.init(code: code, errorClass: errorClass, message: message, operation: operation)
    }

    /// The client's fatal error, if one was raised (`rd_kafka_fatal_error`).
    static func fatalError(of client: OpaquePointer) -> (code: Code, message: String)? {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 512) { buffer in
            buffer[0] = 0
            let err = rd_kafka_fatal_error(client, buffer.baseAddress, 512)
            guard err != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
            return (Code(err), String(cString: buffer.baseAddress!))
        }
    }

    /// What the user can do about this error.
    public var hint: String {
        switch errorClass {
        case .fenced:
            return
                "another instance with the same transactional.id took over; stop this one (its open transaction is aborted)"
        case .fatal:
            return "the Kafka client cannot continue; restart it (check the broker's and client's logs)"
        case .abortable:
            return "abort the transaction and process the records again from the last committed offsets"
        case .retriable:
            return "a transient condition; retry (check that the broker is reachable if it persists)"
        case .permanent:
            return "check the configuration, the topic names and the broker's settings"
        }
    }

    /// A one-line message: the operation, librdkafka's code name and message, the class and the hint.
    public var description: String {
        "\(operation): \(message) [\(code.name), \(errorClass.rawValue)]; \(hint)"
    }
}

/// Throws a ``KafkaError`` unless `err` is `RD_KAFKA_RESP_ERR_NO_ERROR`.
@inline(__always)
func check(_ err: rd_kafka_resp_err_t, _ operation: @autoclosure () -> String, client: OpaquePointer? = nil)
    throws(KafkaError)
{
    if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err, operation: operation(), client: client) }
}

/// Throws the ``KafkaError`` an `rd_kafka_error_t *` carries, if any (and destroys it).
@inline(__always)
func check(_ error: OpaquePointer?, _ operation: @autoclosure () -> String) throws(KafkaError) {
    if let error { throw KafkaError(consuming: error, operation: operation()) }
}
