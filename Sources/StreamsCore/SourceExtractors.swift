internal import StreamsJSON
internal import StreamsState

/// How a source node gives each record it reads its key: keep the key the engine delivered, take
/// JSON fields of the value, or compute it with a closure.
///
/// The runtime applies it when records are buffered (``StreamTask/addRecords(_:for:)``), so every
/// engine (files, Kafka, the test driver) gets the same keys from the same bytes. A record whose
/// key cannot be extracted is invalid: under ``DeserializationErrorPolicy/fail`` its partition
/// stops before it (the records before it are processed and committed, then the task fails with
/// the record's error); under `skip` or `deadLetter` it stays in its place in the partition and
/// the policy applies when it comes up, so a dead-lettered record is committed with its position.
///
/// Kafka Streams counterpart: the key deserializer of `Topology.addSource`; JSON fields are
/// this library's own.
public struct RecordKeyExtractor: Sendable {
    enum Kind: Sendable {
        case recordKey
        case jsonFields([String])
        case custom(@Sendable (Record) throws -> [UInt8]?)
    }

    let kind: Kind
    /// Keys longer than this make the record invalid.
    var maxBytes: Int?
    /// Records (key, value and headers) longer than this are invalid.
    var maxRecordBytes: Int?
    /// Said after the limit in the messages of the records over it (why the limit, how to raise it).
    var limitNote = ""

    /// Keeps the key the engine delivered (the default): the Kafka record key; no key for a line
    /// of a file.
    public static var recordKey: RecordKeyExtractor { RecordKeyExtractor(kind: .recordKey) }

    /// The canonical encoding of scalar fields of the JSON value, by dotted path (`"order.id"`):
    /// strings compare by their characters (escapes decoded), numbers by numeric value (`1`,
    /// `1.0` and `1e0` are one key), booleans as themselves; several fields make one composite
    /// key, unambiguous because each field's encoding is self-delimiting (StreamsJSON's
    /// ``JSONCanonicalKey``). A value that is not a JSON object, or a field that is missing, `null`,
    /// an object or an array, makes the record invalid.
    ///
    /// - Precondition: At least one path (checked when the topology is validated).
    public static func jsonFields(_ paths: [String]) -> RecordKeyExtractor {
        RecordKeyExtractor(kind: .jsonFields(paths))
    }

    /// ``jsonFields(_:)`` with one field.
    public static func jsonField(_ path: String) -> RecordKeyExtractor { jsonFields([path]) }

    /// Bytes computed by a closure from the record as the engine delivered it; `nil` or a thrown
    /// error makes the record invalid. The closure allocates an array per record, unlike
    /// ``jsonFields(_:)``.
    public static func custom(_ body: @escaping @Sendable (Record) throws -> [UInt8]?) -> RecordKeyExtractor {
        RecordKeyExtractor(kind: .custom(body))
    }

    /// The same extractor, with keys longer than `maxBytes` making the record invalid (a key a
    /// store cannot hold is then an invalid record, under the error policy, rather than a store
    /// failure that stops the task at that record on every run).
    public func limited(toBytes maxBytes: Int) -> RecordKeyExtractor {
        var limited = self
        limited.maxBytes = maxBytes
        return limited
    }

    /// The same extractor, with keys longer than `keyBytes`, or records whose key, value and
    /// headers (names and values) together are longer than `recordBytes`, making the record
    /// invalid: a record a sink could not write (Kafka's `message.max.bytes`) is then an invalid
    /// record under the error policy, rather than a producer failure that stops the task at that
    /// record on every run. A record dead-lettered from such a source is cut to fit `recordBytes`
    /// (see ``DeserializationErrorPolicy/deadLetter(sink:)``).
    ///
    /// - Parameters:
    ///   - keyBytes: The longest key.
    ///   - recordBytes: The longest record: key + value + headers.
    ///   - note: Said after the limit in the invalid records' messages, for example why the limit
    ///     is what it is and how to raise it.
    public func limited(toBytes keyBytes: Int, recordBytes: Int, note: String = "") -> RecordKeyExtractor {
        var limited = self
        limited.maxBytes = keyBytes
        limited.maxRecordBytes = recordBytes
        limited.limitNote = note
        return limited
    }

    /// Runs a custom key closure: its bytes, or ``StreamsError/Code/invalidRecord`` when it
    /// throws or finds no key (shared with the Deduplicator's custom key parts).
    package static func customKey(
        _ body: @Sendable (Record) throws -> [UInt8]?, of record: Record
    ) throws(StreamsError) -> [UInt8] {
        let bytes: [UInt8]?
        do { bytes = try body(record) } catch {
            throw StreamsError(
                .invalidRecord, "the key extractor failed: \(error)", origin: record.origin, underlying: error)
        }
        guard let bytes else {
            throw StreamsError(.invalidRecord, "the key extractor found no key", origin: record.origin)
        }
        return bytes
    }

    var isRecordKey: Bool {
        if case .recordKey = kind { return maxBytes == nil && maxRecordBytes == nil }
        return false
    }
}

/// How a source node gives each record it reads its timestamp: keep the engine's (the Kafka
/// record timestamp; for a line of a file, the wall clock when it was read), take a JSON field of
/// the value, or compute it with a closure.
///
/// Applied with the key (see ``RecordKeyExtractor``); a record whose time cannot be extracted is
/// invalid in the same way. Valid timestamps are `Int64.min + 1 ... Int64.max - 1` milliseconds
/// since the epoch (the stores' range).
///
/// Kafka Streams counterpart: `TimestampExtractor` (`default.timestamp.extractor`).
public struct RecordTimestampExtractor: Sendable {
    enum Kind: Sendable {
        case record
        case jsonField(String)
        case custom(@Sendable (Record) throws -> Int64)
    }

    let kind: Kind
    /// Times further ahead of the wall clock than this are invalid.
    let maxFuture: Duration?
    /// The first time further ahead of the wall clock than this is logged as a warning.
    let warnAhead: Duration?

    /// Keeps the timestamp the engine delivered (the default).
    public static var record: RecordTimestampExtractor {
        RecordTimestampExtractor(kind: .record, maxFuture: nil, warnAhead: nil)
    }

    /// The time in a field of the JSON value, by dotted path: an integer of epoch milliseconds or
    /// an RFC 3339 string (StreamsJSON's ``JSONTimestamp``).
    ///
    /// - Parameters:
    ///   - path: The field's dotted path.
    ///   - maxFuture: A time further ahead of the wall clock than this makes the record invalid
    ///     (a producer's wrong clock would otherwise move the stream time so far ahead that later
    ///     records fall out of every window); `nil` (the default) accepts any time.
    ///   - warnAhead: The first time further ahead of the wall clock than this (and within
    ///     `maxFuture`) in each input partition is logged as a warning naming the record; `nil`
    ///     never warns.
    public static func jsonField(
        _ path: String, maxFuture: Duration? = nil, warnAhead: Duration? = nil
    ) -> RecordTimestampExtractor {
        RecordTimestampExtractor(kind: .jsonField(path), maxFuture: maxFuture, warnAhead: warnAhead)
    }

    /// Milliseconds since the epoch computed by a closure; a thrown error makes the record invalid.
    public static func custom(_ body: @escaping @Sendable (Record) throws -> Int64) -> RecordTimestampExtractor {
        RecordTimestampExtractor(kind: .custom(body), maxFuture: nil, warnAhead: nil)
    }

    var isRecord: Bool {
        if case .record = kind { return true }
        return false
    }
}

/// The key and timestamp extraction of one input partition's source, detached from its task so
/// that an engine can run it where it reads, on a thread of its own, while the task processes
/// the batch before (a two-stage pipeline; see ``RecordPoller/adoptExtraction(_:for:)``).
///
/// It applies the source's ``RecordKeyExtractor`` and ``RecordTimestampExtractor`` to a polled
/// batch in place and marks the batch as extracted; the task then only buffers it. Invalid
/// records are listed in the batch with their errors, and the error policy applies when the task
/// buffers (`fail`: the partition stops before the first one) or processes them (`skip`,
/// `deadLetter`), exactly as when the task extracts itself. The first event time beyond the
/// timestamp extractor's `warnAhead` is logged by the task, naming the record.
///
/// Kafka Streams counterpart: the deserialization in `RecordQueue.addRawRecords`
/// (`RecordDeserializer`), which runs on the stream thread there.
///
/// - Important: A value: each copy keeps its own scratch space and its own "warned ahead" flag.
///   Use one copy from one thread at a time.
public struct RecordExtraction: Sendable {
    var compiled: CompiledSourceExtractor
    /// Under ``DeserializationErrorPolicy/fail`` extraction stops at the first invalid record:
    /// the records after it are never processed.
    let stopsAtInvalid: Bool

    /// Extracts the keys and timestamps of `batch`'s records in place and marks it extracted; a
    /// batch already extracted is left as it is.
    ///
    /// - Parameters:
    ///   - batch: A batch of this extraction's partition.
    ///   - nowMs: The wall clock now, for `maxFuture` and `warnAhead`.
    public mutating func extract(_ batch: inout InputBatch, nowMs: Int64) {
        guard !batch.isExtracted else { return }
        var records: [Record] = []
        swap(&records, &batch.records)
        var warning: (origin: RecordOrigin?, message: String)?
        var start = 0
        while start < records.count {
            let failure = compiled.apply(to: &records, from: start, nowMs: nowMs) { origin, message in
                warning = (origin, message)
            }
            guard let (at, error) = failure else { break }
            batch.invalidRecords.append((at, error))
            if stopsAtInvalid { break }
            // Kept in its place, without key and at the earliest time, so that it does not hold back
            // the other inputs; the policy applies when it is processed.
            records[at].key = nil
            records[at].timestampMs = .min
            start = at + 1
        }
        swap(&records, &batch.records)
        batch.aheadWarning = warning
        batch.isExtracted = true
    }
}

/// A source's extractors compiled for one input of one task: the JSON paths parsed once, the
/// field extractor's storage reused for every record.
struct CompiledSourceExtractor: Sendable {
    private enum Key {
        case recordKey
        case jsonFields(count: Int)
        case custom(@Sendable (Record) throws -> [UInt8]?)
    }

    private enum Time {
        case record
        case jsonField(index: Int, path: String)
        case custom(@Sendable (Record) throws -> Int64)
    }

    private let key: Key
    private let maxKeyBytes: Int
    /// The longest record (key + value + headers); `.max`: no limit.
    let maxRecordBytes: Int
    private let limitNote: String
    private let time: Time
    private let maxFutureMs: Int64?
    private let warnAheadMs: Int64?
    private var warnedAhead = false
    private var json: JSONFieldExtractor?
    private var keyScratch: [UInt8] = []

    /// `nil` when both extractors keep what the engine delivered (nothing to do per record).
    init?(key: RecordKeyExtractor, timestamp: RecordTimestampExtractor) throws(StreamsError) {
        if key.isRecordKey && timestamp.isRecord { return nil }
        var paths: [JSONFieldPath] = []
        func parse(_ path: String, role: String) throws(StreamsError) -> JSONFieldPath {
            do { return try JSONFieldPath(path) } catch {
                throw StreamsError(.invalidConfiguration, "invalid \(role) field path '\(path)': \(error.message)")
            }
        }
        switch key.kind {
        case .recordKey: self.key = .recordKey
        case .jsonFields(let fields):
            guard !fields.isEmpty else {
                throw StreamsError(.invalidConfiguration, "a JSON key needs at least one field path")
            }
            for field in fields { paths.append(try parse(field, role: "key")) }
            self.key = .jsonFields(count: fields.count)
        case .custom(let body): self.key = .custom(body)
        }
        switch timestamp.kind {
        case .record: time = .record
        case .jsonField(let path):
            paths.append(try parse(path, role: "time"))
            time = .jsonField(index: paths.count - 1, path: path)
        case .custom(let body): time = .custom(body)
        }
        maxKeyBytes = key.maxBytes ?? .max
        maxRecordBytes = key.maxRecordBytes ?? .max
        limitNote = key.limitNote
        maxFutureMs = timestamp.maxFuture.map(\.milliseconds)
        warnAheadMs = timestamp.warnAhead.map(\.milliseconds)
        json = paths.isEmpty ? nil : JSONFieldExtractor(paths: paths)
        keyScratch.reserveCapacity(64)
    }

    /// Extracts the key and time of the records of `records` from index `start` on, in place; the
    /// keys go into one new buffer that the records' key slices share. Stops at the first invalid
    /// record and returns its index and error (it and the records after it keep the engine's key
    /// and timestamp).
    ///
    /// - Parameters:
    ///   - nowMs: The wall clock, for `maxFuture` and the ahead warning.
    ///   - warn: Called once with the origin of the first record beyond `warnAhead` and a message.
    mutating func apply(
        to records: inout [Record], from start: Int, nowMs: Int64, warn: (RecordOrigin?, String) -> Void
    ) -> (index: Int, error: StreamsError)? {
        var keys: [UInt8] = []
        var ranges: [Range<Int>] = []
        let extractsKey: Bool
        if case .recordKey = key { extractsKey = false } else { extractsKey = true }
        let checksRecordKey = !extractsKey && maxKeyBytes != .max
        let checksRecordSize = maxRecordBytes != .max
        if extractsKey { ranges.reserveCapacity(records.count - start) }
        let maxFuture = maxFutureMs.map { nowMs.addingSaturatedCore($0) } ?? .max
        var warnAt = warnedAhead ? Int64.max : (warnAheadMs.map { nowMs.addingSaturatedCore($0) } ?? .max)
        var failure: (Int, StreamsError)?
        // Through the buffer, so that each record is read in its place instead of copied (a
        // retain and a release per reference it holds).
        records.withUnsafeMutableBufferPointer { records in
            var i = start
            while i < records.count {
                do throws(StreamsError) {
                    if let timestamp = try extract(records.baseAddress.unsafelyUnwrapped + i) {
                        if timestamp > warnAt || timestamp > maxFuture {
                            let ahead = Self.describeAhead(timestamp, nowMs)
                            if timestamp > maxFuture {
                                throw StreamsError(
                                    .invalidRecord,
                                    "the event time \(Self.describe(timestamp)) is \(ahead) ahead of the wall clock, more than the maximum of \(Self.describeDuration(maxFutureMs ?? 0))",
                                    origin: records[i].origin)
                            }
                            warnedAhead = true
                            warnAt = .max
                            warn(
                                records[i].origin,
                                "the event time \(Self.describe(timestamp)) is \(ahead) ahead of the wall clock, more than \(Self.describeDuration(warnAheadMs ?? 0)): the stream time moves there, and windows and retention follow it; if such times are wrong, a maximum future time (maxFuture) judges them invalid"
                            )
                        }
                        records[i].timestampMs = timestamp
                    }
                    if checksRecordKey, let count = records[i].key?.count, count > maxKeyBytes {
                        throw Self.keyTooLarge(count, maxKeyBytes, note: limitNote, origin: records[i].origin)
                    }
                    if extractsKey && keyScratch.count > maxKeyBytes {
                        throw Self.keyTooLarge(
                            keyScratch.count, maxKeyBytes, note: limitNote, origin: records[i].origin)
                    }
                    if checksRecordSize {
                        let keyCount = extractsKey ? keyScratch.count : (records[i].key?.count ?? 0)
                        let size = keyCount + records[i].value.count + records[i].headerBytes
                        if size > maxRecordBytes { throw recordTooLarge(size, keyCount, origin: records[i].origin) }
                    }
                    if extractsKey {
                        let keyStart = keys.count
                        keys.append(contentsOf: keyScratch)
                        ranges.append(keyStart..<keys.count)
                    }
                } catch {
                    failure = (i, error)
                    break
                }
                i += 1
            }
        }
        if extractsKey {
            for (k, range) in ranges.enumerated() { records[start + k].key = keys[range] }
        }
        return failure
    }

    /// Extracts one record's key into `keyScratch` and returns its time (`nil`: keep the record's).
    /// The record is read through a pointer into its batch: passed as a value it was copied (a
    /// retain and a release per reference it holds), since this method mutates `self`.
    @inline(__always)
    private mutating func extract(_ record: UnsafeMutablePointer<Record>) throws(StreamsError) -> Int64? {
        let result: Result<Int64?, StreamsError> = record.pointee.value.withUnsafeBytes { value in
            do throws(StreamsError) {
                return .success(try extractTime(value, of: record))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// The key into `keyScratch`, and the time (`nil`: keep the record's).
    @inline(__always)
    private mutating func extractTime(
        _ value: UnsafeRawBufferPointer, of record: UnsafeMutablePointer<Record>
    ) throws(StreamsError) -> Int64? {
        if json != nil {
            do throws(JSONFieldError) {
                try json!.extract(from: value)
            } catch {
                let at = error.offset.map { " at byte \($0)" } ?? ""
                let what: String
                switch error.code {
                case .tooDeep: what = "nested too deep"
                case .emptyInput, .notAnObject: what = "not a JSON object"
                default: what = "not valid JSON"
                }
                throw StreamsError(.deserialization, "\(what)\(at): \(error.message)", origin: record.pointee.origin)
            }
        }
        switch key {
        case .recordKey: break
        case .jsonFields(let count):
            do throws(JSONFieldError) {
                try json!.encodeKey(fields: 0..<count, of: value, into: &keyScratch)
            } catch {
                throw StreamsError(.invalidRecord, error.message, origin: record.pointee.origin)
            }
        case .custom(let body):
            let bytes = try RecordKeyExtractor.customKey(body, of: record.pointee)
            keyScratch.removeAll(keepingCapacity: true)
            keyScratch.append(contentsOf: bytes)
        }
        let timestamp: Int64
        switch time {
        case .record: return nil
        case .jsonField(let index, let path):
            let field = json.unsafelyUnwrapped[index]
            do throws(JSONFieldError) {
                timestamp = try JSONTimestamp.epochMilliseconds(of: field, in: value)
            } catch {
                throw StreamsError(
                    .invalidRecord, "time field '\(path)': \(error.message)", origin: record.pointee.origin)
            }
        case .custom(let body):
            do { timestamp = try body(record.pointee) } catch {
                throw StreamsError(
                    .invalidRecord, "the timestamp extractor failed: \(error)", origin: record.pointee.origin,
                    underlying: error)
            }
        }
        guard timestamp > .min && timestamp < .max else {
            throw StreamsError(
                .invalidRecord,
                "the time \(timestamp) is outside the valid range Int64.min + 1 ... Int64.max - 1",
                origin: record.pointee.origin)
        }
        return timestamp
    }

    static func keyTooLarge(_ count: Int, _ limit: Int, note: String = "", origin: RecordOrigin?) -> StreamsError {
        StreamsError(
            .invalidRecord, "the key is \(count) bytes, more than the limit of \(limit) bytes\(note)", origin: origin)
    }

    @inline(never)
    private func recordTooLarge(_ size: Int, _ keyCount: Int, origin: RecordOrigin?) -> StreamsError {
        StreamsError(
            .invalidRecord,
            "the record is \(size) bytes (key \(keyCount), value and headers \(size - keyCount)), more than the limit of \(maxRecordBytes) bytes\(limitNote)",
            origin: origin)
    }

    /// `2026-01-01T00:00:00.001Z (1767225600001)`.
    static func describe(_ ms: Int64) -> String { TimeFormatting.timestamp(ms) }

    static func describeAhead(_ timestampMs: Int64, _ nowMs: Int64) -> String {
        let (ahead, overflow) = timestampMs.subtractingReportingOverflow(nowMs)
        return TimeFormatting.duration(overflow ? .max : ahead, units: 2)
    }

    static func describeDuration(_ ms: Int64) -> String { TimeFormatting.duration(ms, units: 5) }
}

extension Int64 {
    /// `self + other`, clamped to `Int64`.
    fileprivate func addingSaturatedCore(_ other: Int64) -> Int64 {
        let (result, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : result
    }
}
