internal import StreamsEmbedded
internal import Foundation
internal import StreamsCore
internal import StreamsDedup
internal import StreamsJSON
internal import StreamsState
internal import StreamsStateLMDB

/// What `dedup verify` found: whether the LMDB store holds exactly what its changelog says.
///
/// LMDB keeps no checksums, so a damaged `data.mdb` (a flipped bit, an outside edit) can answer
/// lookups wrongly without any error. The changelog is checksummed and is the source of truth;
/// this check rebuilds the state it describes in memory and compares:
///
/// 1. The prefix of the changelog to compare with is the one the store says it reflects (its
///    `changelog.position` metadata), decided as the next run would
///    (``ChangelogFile/recovery(forStoreAt:)``): the committed prefix when the store is up to
///    date; the shorter prefix the store reached when it is behind the checkpoint (a crash between
///    the checkpoint and the store's commit: the next run replays the rest, and the report says
///    so); nothing when the next run rebuilds the store anyway (no position, an unrelated one, or
///    a store that cannot be trusted after an operating-system restart).
/// 2. The model: key bytes → timestamps, with values added and tombstones removed in order; its
///    stream time is the largest timestamp read, as a restore sets it.
/// 3. The store's stream time must equal the model's; then every live entry (timestamp at least
///    `streamTime − (window + grace) + 1`) the store iterates must be in the model, and every
///    live model entry must be found by the store's own lookup (the path `dedup run` uses).
///
/// Values are not compared (the deduplicator stores a constant), nor are expired entries that
/// the store keeps until their segment is dropped: neither can change an answer.
public struct DedupVerification: Sendable {
    /// The lines to print when the store agrees with the changelog (or will be rebuilt).
    public let report: String

    /// Opens the state directory (it must not be in use by a run) and compares the store with
    /// the changelog.
    ///
    /// - Parameter stateDirectory: A state directory written by `dedup run`.
    /// - Throws: ``DedupJobError``: ``DedupJobError/Kind/invalidData`` naming the first
    ///   difference (or the damaged changelog or store), ``DedupJobError/Kind/usage`` when the
    ///   directory is not a state directory, ``DedupJobError/Kind/io`` when it cannot be read or
    ///   is locked.
    public init(stateDirectory: String) throws(DedupJobError) {
        let (state, settings) = try JobSettings.openExisting(stateDirectory)
        defer { state.unlock() }
        let checkpoint = try Self.checked { () throws(EmbeddedError) in try state.loadCheckpoint() }
        guard let checkpoint else {
            report = "nothing to verify: \(stateDirectory) has no commit yet (the next dedup run starts over)"
            return
        }
        let rebuildHint =
            "delete the store (rm -rf \(state.storePath)) and the next dedup run rebuilds it from the changelog"

        let committed = checkpoint.changelog
        let changelogPath = state.changelogPath + "/" + ChangelogFile.fileName(generation: committed.generation)
        guard FileManager.default.fileExists(atPath: changelogPath) else {
            throw DedupJobError(
                .invalidData,
                "the checkpoint refers to the changelog \(changelogPath), which does not exist: the state directory was damaged; delete it to start over"
            )
        }
        let header = try Self.checked { () throws(EmbeddedError) in
            try ChangelogFileReader(path: changelogPath, upTo: committed.offset).header
        }

        let retentionMs = settings.windowMs + settings.graceMs
        let store: LMDBWindowStore
        do {
            store = try LMDBWindowStore(
                directory: state.storePath,
                configuration: WindowStoreConfiguration(name: DedupJob.storeName, retention: .milliseconds(retentionMs))
            )
        } catch {
            if error.code == .corrupt {
                throw DedupJobError(.invalidData, "\(error.message); \(rebuildHint)")
            }
            throw DedupJobError(.io, "cannot open the store in \(state.storePath): \(error.message)")
        }
        defer { try? store.close() }
        if case .untrusted(let reason) = store.integrity {
            report =
                "not compared: the next dedup run rebuilds the store in \(state.storePath) from the changelog (\(reason))"
            return
        }
        let storePosition: ChangelogFilePosition?
        do {
            storePosition = try store.metadata(forKey: ChangelogFilePosition.metadataKey).flatMap {
                ChangelogFilePosition(metadataBytes: $0)
            }
        } catch {
            throw Self.storeError(error, state: state, hint: rebuildHint)
        }

        var lines: [String] = []
        let limit: Int64
        switch ChangelogFile.recovery(forStoreAt: storePosition, committed: committed, header: header) {
        case .upToDate:
            limit = committed.offset
        case .replay(let from):
            limit = from
            lines.append(
                "the store is behind the checkpoint: it reflects \(changelogPath) up to offset \(from) of \(committed.offset) (a run stopped between its checkpoint and the store's commit); the next dedup run replays the rest"
            )
        case .rebuild(let reason):
            report =
                "not compared: the next dedup run rebuilds the store in \(state.storePath) from the changelog (\(reason))"
            return
        }

        // The model: what restoring the changelog prefix into an empty store gives.
        var model: [[UInt8]: Set<Int64>] = [:]
        var modelStreamTimeMs = Int64.min
        var changelogEntries = 0
        try Self.checked { () throws(EmbeddedError) in
            let reader = try ChangelogFileReader(path: changelogPath, upTo: limit)
            while true {
                let batch = try reader.nextBatch()
                if batch.isEmpty { break }
                changelogEntries += batch.count
                for entry in batch {
                    modelStreamTimeMs = max(modelStreamTimeMs, entry.timestampMs)
                    if entry.value != nil {
                        model[entry.key, default: []].insert(entry.timestampMs)
                    } else if model[entry.key]?.remove(entry.timestampMs) != nil, model[entry.key]!.isEmpty {
                        model[entry.key] = nil
                    }
                }
            }
        }
        let prefix = "\(changelogPath) up to offset \(limit)"
        let disagree = "the store in \(state.storePath) disagrees with the changelog \(prefix)"

        guard store.streamTimeMs == modelStreamTimeMs else {
            throw DedupJobError(
                .invalidData,
                "\(disagree): its stream time is \(Self.time(store.streamTimeMs)), the changelog's \(Self.time(modelStreamTimeMs)); \(rebuildHint)"
            )
        }
        let floor = Self.liveFloor(streamTimeMs: modelStreamTimeMs, retentionMs: retentionMs)

        // Store → model: every live entry the store holds is in the changelog.
        var storeEntries = 0
        var extra: (count: Int, first: WindowEntry?) = (0, nil)
        do {
            try store.forEachEntry { entry in
                storeEntries += 1
                if model[entry.key]?.contains(entry.timestampMs) != true {
                    extra.count += 1
                    if extra.first == nil { extra.first = entry }
                }
            }
        } catch let error as StateStoreError {
            throw Self.storeError(error, state: state, hint: rebuildHint)
        } catch {
            throw DedupJobError(.io, "reading the store in \(state.storePath): \(error)")
        }

        // Model → store: the store's own lookup finds every live entry of the changelog. Smallest
        // time first, so that the first difference named is the oldest.
        var live: [(key: [UInt8], timestampMs: Int64)] = []
        for (key, times) in model {
            for t in times where t >= floor { live.append((key, t)) }
        }
        live.sort {
            $0.timestampMs != $1.timestampMs
                ? $0.timestampMs < $1.timestampMs : $0.key.lexicographicallyPrecedes($1.key)
        }
        var missing: (count: Int, first: (key: [UInt8], timestampMs: Int64)?) = (0, nil)
        do {
            for entry in live {
                let found = try store.firstTimestamp(key: entry.key, from: entry.timestampMs, to: entry.timestampMs)
                if found != entry.timestampMs {
                    missing.count += 1
                    if missing.first == nil { missing.first = entry }
                }
            }
        } catch {
            throw Self.storeError(error, state: state, hint: rebuildHint)
        }

        let differences = extra.count + missing.count
        if differences > 0 {
            let first: String
            if let entry = missing.first {
                first =
                    "the changelog holds \(Self.describe(key: entry.key)) at \(Self.time(entry.timestampMs)), which the store does not find"
            } else {
                let entry = extra.first!
                first =
                    "the store holds \(Self.describe(key: entry.key)) at \(Self.time(entry.timestampMs)), which the changelog does not"
            }
            throw DedupJobError(
                .invalidData,
                "\(disagree): \(differences) difference\(differences == 1 ? "" : "s") (\(missing.count) missing from the store, \(extra.count) not in the changelog), the first: \(first); \(rebuildHint)"
            )
        }
        lines.insert(
            "store and changelog agree: \(live.count { $0.key != Deduplicator.streamTimeMarker }) live entries at stream time \(Self.time(modelStreamTimeMs)) (retention \(retentionMs) ms), \(changelogEntries) changelog records read from \(prefix)",
            at: 0
        )
        report = lines.joined(separator: "\n")
    }

    // MARK: Helpers

    /// Runs `body`, sorting a damaged or truncated changelog (or checkpoint) into invalid data.
    @discardableResult
    private static func checked<R>(_ body: () throws(EmbeddedError) -> R) throws(DedupJobError) -> R {
        do { return try body() } catch {
            switch error.code {
            case .corrupt, .positionMismatch, .unsupportedVersion: throw DedupJobError(.invalidData, error.message)
            default: throw DedupJobError(error)
            }
        }
    }

    private static func storeError(_ error: StateStoreError, state: StateDirectory, hint: String) -> DedupJobError {
        if error.code == .corrupt { return DedupJobError(.invalidData, "\(error.message); \(hint)") }
        return DedupJobError(.io, "reading the store in \(state.storePath): \(error.message)")
    }

    static func liveFloor(streamTimeMs: Int64, retentionMs: Int64) -> Int64 {
        guard streamTimeMs != .min else { return .min }
        let (floor, overflow) = streamTimeMs.subtractingReportingOverflow(retentionMs - 1)
        return overflow ? .min : floor
    }

    static func time(_ ms: Int64) -> String {
        ms == .min ? "none (empty)" : TimeFormatting.timestamp(ms)
    }

    /// A store key for a message: the deduplicator's stream-time marker by name, a record key of
    /// canonical JSON components as JSON values (`"o-1"`, `42`, `"a", 7` for a composite key),
    /// anything else as escaped bytes.
    static func describe(key: [UInt8]) -> String {
        if key == Deduplicator.streamTimeMarker { return "the stream-time marker" }
        if let inner = component(key[...], tag: UInt8(ascii: "k")), inner.rest.isEmpty,
            let values = jsonValues(inner.bytes)
        {
            return "key " + values.joined(separator: ", ")
        }
        return "key bytes " + escaped(key[...])
    }

    /// Splits one `[tag][LEB128 length][bytes]` component off the front of `bytes`.
    private static func component(_ bytes: ArraySlice<UInt8>, tag: UInt8) -> (
        bytes: ArraySlice<UInt8>, rest: ArraySlice<UInt8>
    )? {
        guard bytes.first == tag else { return nil }
        var i = bytes.startIndex + 1
        var length = 0
        var shift = 0
        while true {
            guard i < bytes.endIndex, shift < 56 else { return nil }
            let byte = bytes[i]
            i += 1
            length |= Int(byte & 0x7F) << shift
            shift += 7
            if byte & 0x80 == 0 { break }
        }
        guard bytes.endIndex - i >= length else { return nil }
        return (bytes[i..<(i + length)], bytes[(i + length)...])
    }

    /// The canonical JSON components of `bytes` as JSON text, or `nil` if they are not such.
    private static func jsonValues(_ bytes: ArraySlice<UInt8>) -> [String]? {
        var values: [String] = []
        var rest = bytes
        while let tag = rest.first {
            switch tag {
            case JSONCanonicalKey.trueTag:
                values.append("true")
                rest = rest.dropFirst()
            case JSONCanonicalKey.falseTag:
                values.append("false")
                rest = rest.dropFirst()
            case JSONCanonicalKey.stringTag, JSONCanonicalKey.numberTag:
                guard let part = component(rest, tag: tag), let text = String(validating: part.bytes, as: UTF8.self)
                else { return nil }
                if tag == JSONCanonicalKey.numberTag {
                    values.append(text)
                } else {
                    let quoted = try? JSONSerialization.data(withJSONObject: text, options: [.fragmentsAllowed])
                    values.append(quoted.map { String(decoding: $0, as: UTF8.self) } ?? "\"\(text)\"")
                }
                rest = part.rest
            default:
                return nil
            }
        }
        return values.isEmpty ? nil : values
    }

    private static func escaped(_ bytes: ArraySlice<UInt8>) -> String {
        var text = ""
        for byte in bytes.prefix(200) {
            if byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\\") {
                text.unicodeScalars.append(UnicodeScalar(byte))
            } else {
                text += "\\x" + String(byte, radix: 16).leftPadded(to: 2)
            }
        }
        return bytes.count > 200 ? text + "… (\(bytes.count) bytes)" : text
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
