extension EmbeddedConfiguration {
    /// Refuses files that would destroy data, before anything on disk is created or changed: an
    /// output that is an input (opening it for writing would empty the input), two outputs on one
    /// file or both on standard output (their lines would interleave), an output inside the state
    /// directory (whose files the engine owns), and an input given twice (every line would be
    /// read twice). Files are compared by identity (device and inode, symbolic links followed;
    /// for a file not yet created, its resolved absolute path), never by the spelling of a path.
    ///
    /// ``EmbeddedStreams`` runs it when it opens; an application may run it first to name files
    /// its own way.
    ///
    /// - Parameters:
    ///   - outputName: How a message names an output; default "the output file F of topic T".
    ///   - inputName: How a message names an input file; default "the input file F of topic T".
    /// - Throws: ``EngineFailure`` of kind `usage`, naming both files and the fix.
    package func checkFiles(
        outputName: (Output) -> String = { "the output file \($0.file) of topic '\($0.topic)'" },
        inputName: (_ topic: String, _ file: String) -> String = { "the input file \($1) of topic '\($0)'" }
    ) throws(EngineFailure) {
        let toStandardOutput = outputs.filter { $0.file == "-" }
        if toStandardOutput.count > 1 {
            let names = toStandardOutput.map(outputName)
            throw EngineFailure(
                .usage,
                "\(names.joined(separator: " and ")) \(names.count == 2 ? "both" : "all") write to standard output (-), which would interleave them; give each its own file"
            )
        }
        let inputFiles = inputs.flatMap { input in input.files.map { (topic: input.topic, file: $0) } }
            .filter { $0.file != "-" }
        let inputIdentities = inputFiles.map { FileIdentity(of: $0.file) }
        let identities = outputs.map { FileIdentity(of: $0.file) }
        for i in outputs.indices where outputs[i].file != "-" {
            for j in outputs.indices where j > i && identities[i] == identities[j] {
                throw EngineFailure(
                    .usage,
                    "\(outputName(outputs[i])) and \(outputName(outputs[j])) are the same file, which would interleave them; give each its own file"
                )
            }
            for (k, input) in inputFiles.enumerated() where inputIdentities[k] == identities[i] {
                throw EngineFailure(
                    .usage,
                    "\(outputName(outputs[i])) is \(inputName(input.topic, input.file)); writing it would destroy the input. Choose another output path"
                )
            }
            if let stateDirectory, FileIdentity.path(outputs[i].file, isInside: stateDirectory) {
                throw EngineFailure(
                    .usage,
                    "\(outputName(outputs[i])) is inside the state directory \(stateDirectory), whose files the engine owns; write the output elsewhere"
                )
            }
        }
        for i in inputFiles.indices {
            for j in inputFiles.indices where j > i && inputIdentities[i] == inputIdentities[j] {
                throw EngineFailure(
                    .usage,
                    "\(inputName(inputFiles[i].topic, inputFiles[i].file)) and \(inputName(inputFiles[j].topic, inputFiles[j].file)) are the same file, which would read every line twice; give each input once"
                )
            }
        }
    }
}
