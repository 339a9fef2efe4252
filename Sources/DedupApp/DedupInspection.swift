internal import StreamsEmbedded
internal import Foundation
internal import StreamsCore
internal import StreamsDedup
internal import StreamsJSON
internal import StreamsState
internal import StreamsStateLMDB

/// What `dedup inspect` reports about a state directory.
public struct DedupInspection: Sendable {
    /// The lines of the report.
    public let report: String

    /// Opens the state directory (it must not be in use by a run) and describes it; with
    /// `keyValues`, also whether that key is live and its stored times.
    ///
    /// - Parameters:
    ///   - stateDirectory: A state directory written by `dedup run`.
    ///   - keyValues: One value per key field, as JSON (`42`, `"abc"`) or plain text for a string.
    /// - Throws: ``DedupJobError``.
    public init(stateDirectory: String, keyValues: [String]?) throws(DedupJobError) {
        let (state, settings) = try JobSettings.openExisting(stateDirectory)
        defer { state.unlock() }
        let checkpoint = try DedupJobError.wrap { () throws(EmbeddedError) in try state.loadCheckpoint() }
        let configuration = WindowStoreConfiguration(
            name: DedupJob.storeName,
            retention: .milliseconds(settings.windowMs + settings.graceMs)
        )
        let store: LMDBWindowStore
        do {
            store = try LMDBWindowStore(directory: state.storePath, configuration: configuration)
        } catch {
            throw DedupJobError(
                .io,
                "cannot open the store in \(state.storePath): \(error); the next dedup run rebuilds it from the changelog"
            )
        }
        defer { try? store.close() }
        var lines: [String] = []
        do {
            let entries = try Deduplicator.businessEntryCount(in: store)
            lines.append("state:              \(stateDirectory)")
            lines.append(
                "key:                \(settings.keyFields.joined(separator: ", ")); time: \(settings.timeField ?? "processing time"); window \(settings.windowMs) ms, grace \(settings.graceMs) ms"
            )
            lines.append(
                "live entries:       \(entries) (approximate: includes expired entries of segments not dropped yet)")
            let ids = store.segmentIDs
            lines.append(
                "segments:           \(ids.count)\(ids.isEmpty ? "" : " (ids \(ids.first!)...\(ids.last!), \(store.segmentIntervalMs) ms each)")"
            )
            if store.streamTimeMs != .min {
                let floor = store.streamTimeMs - store.retentionMs + 1
                lines.append(
                    "time range:         \(TimeFormatting.timestamp(floor)) ... \(TimeFormatting.timestamp(store.streamTimeMs)) (stream time)"
                )
            } else {
                lines.append("time range:         empty")
            }
            let storeBytes = Self.size(of: state.storePath)
            let changelogBytes = Self.size(of: state.changelogPath)
            lines.append("bytes on disk:      store \(storeBytes), changelog \(changelogBytes)")
            if let checkpoint {
                lines.append("changelog position: \(checkpoint.changelog) (generation:offset), \(changelogBytes) bytes")
                for input in checkpoint.inputs {
                    lines.append(
                        "input:              \(input.path) committed through line \(input.lineNumber) (byte \(input.byteOffset))"
                    )
                }
            } else {
                lines.append("changelog position: none (no commit yet)")
            }
            if let keyValues {
                guard keyValues.count == settings.keyFields.count else {
                    throw DedupJobError(
                        .usage, "give one --key value per key field (\(settings.keyFields.joined(separator: ", ")))")
                }
                let key = try Self.storeKey(fields: settings.keyFields, values: keyValues)
                let times = try store.fetch(key: key, from: .min, to: .max).map(\.timestampMs)
                let shown = keyValues.joined(separator: ", ")
                if times.isEmpty {
                    lines.append("key \(shown):   not live")
                } else {
                    lines.append(
                        "key \(shown):   live, stored at \(times.map(TimeFormatting.timestamp).joined(separator: ", "))"
                    )
                }
            }
        } catch let error as DedupJobError {
            throw error
        } catch {
            throw DedupJobError(.io, "reading the store in \(state.storePath): \(error)")
        }
        report = lines.joined(separator: "\n")
    }

    /// The store key of a record whose key fields hold `values`: a JSON object is built with the
    /// fields and run through the same extraction as `dedup run`.
    static func storeKey(fields: [String], values: [String]) throws(DedupJobError) -> [UInt8] {
        var object: [String: Any] = [:]
        for (field, text) in zip(fields, values) {
            let value: Any =
                (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) ?? text
            let components = field.split(separator: ".").map(String.init)
            object = Self.insert(value, at: components[...], into: object)
        }
        let line: Data
        do { line = try JSONSerialization.data(withJSONObject: object) } catch {
            throw DedupJobError(.usage, "cannot build a record from the --key values: \(error)")
        }
        var extractor = JSONFieldExtractor(paths: fields.compactMap { try? JSONFieldPath($0) })
        var canonical: [UInt8] = []
        let result: Result<Void, JSONFieldError> = Array(line).withUnsafeBytes { bytes in
            do throws(JSONFieldError) {
                try extractor.extract(from: bytes)
                try extractor.encodeKey(fields: 0..<fields.count, of: bytes, into: &canonical)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        if case .failure(let error) = result { throw DedupJobError(.usage, "bad --key value: \(error.message)") }
        do {
            return try KeyExtractor.recordKey.storeKey(for: Record(key: canonical, value: [], timestampMs: 0))
        } catch {
            throw DedupJobError(.usage, "bad --key value: \(error.message)")
        }
    }

    private static func insert(_ value: Any, at path: ArraySlice<String>, into object: [String: Any]) -> [String: Any] {
        var object = object
        guard let first = path.first else { return object }
        if path.count == 1 {
            object[first] = value
        } else {
            object[first] = insert(value, at: path.dropFirst(), into: object[first] as? [String: Any] ?? [:])
        }
        return object
    }

    static func size(of directory: String) -> Int64 {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var total: Int64 = 0
        for file in files {
            var st = stat()
            if stat(directory + "/" + file, &st) == 0 { total += Int64(st.st_blocks) * 512 }
        }
        return total
    }
}
