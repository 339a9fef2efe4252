internal import CStreamsSystem

#if canImport(Glibc)
    internal import Glibc
#elseif canImport(Darwin)
    internal import Darwin
#endif

/// Which file a path names, for telling whether two paths alias: the device and inode of an
/// existing file (after following symbolic links), or the absolute path a file not yet created
/// would get (its directory resolved, so `out.jsonl`, `./out.jsonl` and `dir/../out.jsonl` agree).
/// Standard input and output (`-`) have an identity of their own.
package enum FileIdentity: Hashable {
    case file(device: UInt64, inode: UInt64)
    case notYetCreated(absolutePath: String)
    case standardStream

    /// The identity of `path` now. Never fails: a path that cannot be resolved (its directory is
    /// missing) is compared by its absolute spelling, and opening it will report the real problem.
    package init(of path: String) {
        if path == "-" {
            self = .standardStream
            return
        }
        var st = stat()
        if stat(path, &st) == 0 {
            self = .file(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
            return
        }
        self = .notYetCreated(absolutePath: Self.resolvedPath(path))
    }

    /// `path` made absolute with its existing prefix resolved (symbolic links, `.` and `..`).
    /// A dangling symbolic link resolves to the path of the file it names.
    package static func resolvedPath(_ path: String) -> String {
        if let real = realPath(path) { return real }
        // A dangling link: where it points, relative to its own directory.
        var st = stat()
        if lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFLNK, let target = linkTarget(path) {
            let base = target.hasPrefix("/") ? target : FileSystemCalls.parent(of: path) + "/" + target
            return resolvedPath(base)
        }
        let parent = FileSystemCalls.parent(of: path)
        let name = path.split(separator: "/", omittingEmptySubsequences: true).last.map(String.init) ?? path
        let resolvedParent = realPath(parent) ?? absolute(parent)
        return (resolvedParent == "/" ? "" : resolvedParent) + "/" + name
    }

    /// Whether `path` (resolved) lies inside `directory` (resolved).
    package static func path(_ path: String, isInside directory: String) -> Bool {
        let dir = resolvedPath(directory)
        let file = resolvedPath(path)
        return file == dir || file.hasPrefix(dir == "/" ? "/" : dir + "/")
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func linkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let cwd = String(cString: buffer)
        return path == "." ? cwd : cwd + "/" + path
    }
}
