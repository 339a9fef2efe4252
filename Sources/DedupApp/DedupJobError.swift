internal import StreamsEmbedded
/// Why `dedup run` or `dedup inspect` stopped, sorted into the exit-status classes of sysexits(3).
public struct DedupJobError: Error, Sendable, CustomStringConvertible {
    /// The class of failure, which decides the exit status.
    public enum Kind: Sendable, Hashable {
        /// Bad arguments or a state directory used with other settings (exit 64).
        case usage
        /// An input line is not a JSON object, lacks the key or has a bad time (exit 65).
        case invalidData
        /// A file could not be read or written, the disk is full, the state is locked (exit 74).
        case io
        /// Anything else (exit 70).
        case software
    }

    /// The class of failure.
    public var kind: Kind
    /// One line that names the file (and line) and says what to do.
    public var message: String

    /// Creates an error.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The message.
    public var description: String { message }

    /// The process exit status for this error (sysexits.h).
    public var exitCode: Int32 {
        switch kind {
        case .usage: return 64
        case .invalidData: return 65
        case .io: return 74
        case .software: return 70
        }
    }
}

extension DedupJobError {
    /// Sorts a file error into the exit-status classes: a recorded position that does not fit
    /// its file is a usage error (64), everything else I/O (74).
    init(_ error: EmbeddedError) {
        self.init(EngineFailure(error))  // one mapping, the engine's
    }

    /// Sorts an engine failure into the exit-status classes.
    init(_ failure: EngineFailure) {
        switch failure.kind {
        case .usage: self.init(.usage, failure.message)
        case .io: self.init(.io, failure.message)
        }
    }

    /// Runs a file operation, turning its error into a ``DedupJobError``.
    static func wrap<R>(_ body: () throws(EmbeddedError) -> R) throws(DedupJobError) -> R {
        do { return try body() } catch { throw DedupJobError(error) }
    }

    /// Runs an engine operation, turning its failure into a ``DedupJobError``.
    static func wrap<R>(engine body: () throws(EngineFailure) -> R) throws(DedupJobError) -> R {
        do { return try body() } catch { throw DedupJobError(error) }
    }
}
