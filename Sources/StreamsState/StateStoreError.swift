/// An error of the state layer: a stable code, a message a user can act on, and the error of the
/// storage underneath where there is one (an `LMDBError` for `LMDBWindowStore`).
public struct StateStoreError: Error, Sendable, CustomStringConvertible {
    /// The stable kind of a ``StateStoreError``; match on it with `catch let e where e.code == …`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's stable name.
        public let name: String
        private init(_ name: String) { self.name = name }

        /// The storage underneath failed; see ``StateStoreError/underlying``.
        public static let storage = Code("storage")
        /// The store's files are not a swift-dedup store, or are damaged: rebuild it from its changelog.
        public static let corrupt = Code("corrupt")
        /// The store was built with other settings (retention, segment interval) than requested.
        public static let configurationMismatch = Code("configurationMismatch")
        /// A setting is out of range (for example a retention under 1 ms); fix the configuration.
        public static let invalidConfiguration = Code("invalidConfiguration")
        /// A key or value is larger than the store accepts.
        public static let tooLarge = Code("tooLarge")
        /// A write needs a new segment while the store holds the most segments its `maxSegments`
        /// setting allows (writes far ahead of stream time each open a segment, dropped only once
        /// stream time passes it); raise `maxSegments` or the segment interval.
        public static let tooManySegments = Code("tooManySegments")
        /// The store was closed.
        public static let closed = Code("closed")
        /// The file system holding the store is full (`ENOSPC`, `EDQUOT`, or an I/O error with
        /// almost no space left: LMDB reports a short write as `EIO`).
        public static let diskFull = Code("diskFull")
        /// The store's directory is open already, by a store of this process or by another
        /// process (one open store per directory), or `destroy(directory:)` was called on a
        /// directory whose store is open.
        public static let inUse = Code("inUse")
        /// The store was called from another thread than the one that began its open batch
        /// (LMDB write transactions belong to their thread); see the store's threading rule.
        public static let wrongThread = Code("wrongThread")
        /// A timestamp outside ``WindowStoreConfiguration/validTimestamps``
        /// (`Int64.min + 1 ... Int64.max - 1`): the extremes are reserved.
        public static let invalidTimestamp = Code("invalidTimestamp")

        /// The code's name.
        public var description: String { name }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What went wrong and what to do about it.
    public var message: String
    /// The storage's error underneath, if any (for `LMDBWindowStore` an `LMDBError`, which
    /// StreamsStateLMDB also offers as `lmdb`).
    public var underlying: (any Error & Sendable)?

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: The stable kind of failure.
    ///   - message: What went wrong and what to do.
    ///   - underlying: The storage's error underneath, if any.
    public init(_ code: Code, _ message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// `"<code>: <message>"`.
    public var description: String { "\(code): \(message)" }
}

/// The ``StateStoreError/Code/tooLarge`` error of both stores for a key over their limit.
@usableFromInline @inline(never)
package func keyTooLarge(_ count: Int, limit: Int, store name: String, setting: String) -> StateStoreError {
    StateStoreError(
        .tooLarge,
        "store '\(name)': a key of \(count) bytes exceeds the limit of \(limit) bytes (\(setting)); shorten or hash such keys before they reach the store, or raise \(setting)"
    )
}

/// The ``StateStoreError/Code/tooManySegments`` error of both stores: segment `id` would be one
/// more than `maxSegments`.
package func segmentLimitReached(
    store name: String,
    segment id: Int64?,
    maxSegments: Int,
    setting: String,
    location: String = ""
) -> StateStoreError {
    StateStoreError(
        .tooManySegments,
        "store '\(name)'\(location): a write needs \(id.map { "segment \($0)" } ?? "a new segment") while the store holds \(maxSegments) segments, the most \(setting) allows (writes ahead of stream time open segments that are dropped only once stream time passes them); raise \(setting), set a longer WindowStoreConfiguration.segmentInterval, or advance stream time before writing far ahead of it"
    )
}
