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
        try Self.checkDeduplication(
            keyFields: keyFields, timeField: timeField, window: window, grace: grace, commitInterval: commitInterval)
        try checkFiles()
        try checkInputsReadable()
    }

    /// The settings every dedup job shares (`dedup run`, `dedup kafka`): key fields and their
    /// paths, the time field's path, the window and grace, the commit interval. Checked before
    /// anything on disk or on the network is touched.
    ///
    /// - Throws: ``DedupJobError`` (usage) naming what is wrong.
    static func checkDeduplication(
        keyFields: [String], timeField: String?, window: Duration, grace: Duration, commitInterval: Duration?
    ) throws(DedupJobError) {
        guard !keyFields.isEmpty else { throw DedupJobError(.usage, "give at least one key field") }
        guard window > .zero else {
            throw DedupJobError(
                .usage,
                "the window must be positive; a record is a duplicate only of one less than the window apart")
        }
        guard grace >= .zero else { throw DedupJobError(.usage, "the grace cannot be negative") }
        guard window <= maxRetention, grace <= maxRetention, window + grace <= maxRetention else {
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
    }

    /// The engine's file checks (``EmbeddedConfiguration/checkFiles(outputName:inputName:)``),
    /// with messages that name this command's flags.
    private func checkFiles() throws(DedupJobError) {
        let flags: [String: String] = [
            Self.outputTopic: "--output", Self.duplicatesTopic: "--duplicates", Self.invalidTopic: "--invalid",
        ]
        do {
            try engineConfiguration.checkFiles(
                outputName: { "\(flags[$0.topic] ?? $0.topic) \($0.file)" },
                inputName: { _, file in "the input \(file)" }
            )
        } catch {
            throw DedupJobError(error)
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
