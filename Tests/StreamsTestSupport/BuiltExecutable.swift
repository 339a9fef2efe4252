import Foundation

/// Finds executables of this package built next to the test bundle, for tests that run a real
/// child process (and kill it).
public enum BuiltExecutable {
    /// The path of the product `name` in the build directory (`.build/<configuration>/<name>`).
    public static func path(_ name: String, filePath: String = #filePath) -> String {
        let bundleDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundleDirectory, bundleDirectory.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return URL(fileURLWithPath: filePath).deletingLastPathComponent()
            .appendingPathComponent("../../.build/debug/\(name)").standardized.path
    }
}
