internal import StreamsEmbedded
internal import StreamsCore
internal import StreamsDedup
internal import StreamsJSON
internal import StreamsState

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

extension DedupJobConfiguration {
    /// The longest `window + grace` a state directory accepts: 100 years. Event times are epoch
    /// milliseconds; far longer retentions only come from typos, and the store computes with
    /// `time ± retention`.
    static let maxRetention: Duration = .seconds(36_500 * 86_400)

    /// The outputs with the flag that names each, in command-line order.
    var outputFlags: [(flag: String, path: String)] {
        var outputs = [("--output", output)]
        if let duplicatesOutput { outputs.append(("--duplicates", duplicatesOutput)) }
        if let invalidOutput { outputs.append(("--invalid", invalidOutput)) }
        return outputs
    }

    /// Refuses, before anything on disk is created or changed, every configuration a run would
    /// refuse later: bad durations and field paths, outputs that alias an input, each other or a
    /// file of the state directory, and inputs that cannot be opened.
    ///
    /// Files are compared by identity (device and inode, symbolic links followed; for a file not
    /// yet created, its resolved absolute path), never by the spelling of their path.
    ///
    /// - Throws: ``DedupJobError``: ``DedupJobError/Kind/usage`` for the configuration,
    ///   ``DedupJobError/Kind/io`` for an input that cannot be read.
    func preflight() throws(DedupJobError) {
        guard !inputs.isEmpty else { throw DedupJobError(.usage, "give at least one input") }
        guard !keyFields.isEmpty else { throw DedupJobError(.usage, "give at least one key field") }
        guard window > .zero else {
            throw DedupJobError(
                .usage,
                "the window must be positive; a record is a duplicate only of one less than the window apart")
        }
        guard grace >= .zero else { throw DedupJobError(.usage, "the grace cannot be negative") }
        guard window <= Self.maxRetention, grace <= Self.maxRetention, window + grace <= Self.maxRetention else {
            throw DedupJobError(
                .usage,
                "--window + --grace is \((window + grace).milliseconds / 86_400_000) days, more than 100 years (36500d), which is not supported; check the units"
            )
        }
        if let commitInterval, commitInterval <= .zero {
            throw DedupJobError(.usage, "the commit interval must be positive")
        }
        for field in keyFields + (timeField.map { [$0] } ?? []) {
            do throws(JSONFieldError) { _ = try JSONFieldPath(field) } catch {
                throw DedupJobError(.usage, "bad field path '\(field)': \(error.message)")
            }
        }
        let dedup = DeduplicatorConfiguration(key: .recordKey, time: .eventTime, window: window, grace: grace)
        do { try dedup.validate() } catch { throw DedupJobError(.usage, error.message) }
        try checkOutputs()
        try checkInputsDistinct()
        try checkInputsReadable()
    }

    private func checkOutputs() throws(DedupJobError) {
        let outputs = outputFlags
        let stdoutFlags = outputs.filter { $0.path == "-" }.map(\.flag)
        if stdoutFlags.count > 1 {
            throw DedupJobError(
                .usage,
                "\(stdoutFlags.joined(separator: " and ")) \(stdoutFlags.count == 2 ? "both" : "all") write to standard output (-), which would interleave them; give each its own file"
            )
        }
        let identities = outputs.map { FileIdentity(of: $0.path) }
        for i in outputs.indices where outputs[i].path != "-" {
            for j in outputs.indices where j > i && identities[i] == identities[j] {
                throw DedupJobError(
                    .usage,
                    "\(outputs[i].flag) \(outputs[i].path) and \(outputs[j].flag) \(outputs[j].path) are the same file, which would interleave them; give each its own file"
                )
            }
            for input in inputs where input != "-" && FileIdentity(of: input) == identities[i] {
                throw DedupJobError(
                    .usage,
                    "\(outputs[i].flag) \(outputs[i].path) is the input \(input); writing it would destroy the input. Choose another output path"
                )
            }
            if store == .lmdb && FileIdentity.path(outputs[i].path, isInside: stateDirectory) {
                throw DedupJobError(
                    .usage,
                    "\(outputs[i].flag) \(outputs[i].path) is inside the state directory \(stateDirectory), whose files dedup owns; write the output elsewhere"
                )
            }
        }
    }

    /// Two `--input`s naming one file (by another spelling or a link) would read every line twice.
    private func checkInputsDistinct() throws(DedupJobError) {
        let files = inputs.filter { $0 != "-" }
        let identities = files.map { FileIdentity(of: $0) }
        for i in files.indices {
            for j in files.indices where j > i && identities[i] == identities[j] {
                throw DedupJobError(
                    .usage,
                    "--input \(files[i]) and --input \(files[j]) are the same file, which would read every line twice; give each input once"
                )
            }
        }
    }

    private func checkInputsReadable() throws(DedupJobError) {
        for input in inputs where input != "-" {
            if access(input, R_OK) != 0 {
                throw DedupJobError(EmbeddedError.system("open", input, errno: errno, role: "input"))
            }
            var st = stat()
            if stat(input, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
                throw DedupJobError(EmbeddedError.system("open", input, errno: EISDIR, role: "input"))
            }
        }
    }
}
