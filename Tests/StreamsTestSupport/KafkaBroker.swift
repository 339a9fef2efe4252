import Foundation
public import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A real Kafka-compatible broker for tests: a `noida-db` process serving only Kafka on a free
/// loopback port, with its data in a temporary directory.
///
/// `noida-db` is a Python wrapper that starts a native child; both are started in a new process
/// group and ``stop()`` ends the whole group (SIGTERM, then SIGKILL for what is left), so no
/// broker outlives its test. Where it is found: `$NOIDA_DB`, then `noida-db` on `PATH`, then the
/// virtual environment `scripts/install-deps.sh` creates.
///
/// When it is not installed, ``start(_:)`` throws a message that says how to install it; suites
/// use ``isRunnable`` to skip locally (outside CI) instead of failing.
public final class KafkaBroker: Sendable {
    /// Why a broker could not be started.
    public struct StartError: Error, CustomStringConvertible {
        /// What went wrong and what to do.
        public let description: String
    }

    /// The broker's process id, which is also its process group id.
    public let pid: Int32
    /// The loopback port it serves Kafka on.
    public let port: Int
    /// Its data directory (and log file), removed by ``stop()``.
    public let directory: TemporaryDirectory

    /// `bootstrap.servers` for clients: `127.0.0.1:<port>`.
    public var bootstrapServers: String { "127.0.0.1:\(port)" }

    /// The broker's own output (stdout and stderr), for failure messages.
    public var log: String { Files.text(directory.file("noida-db.log")) }

    /// Whether CI is set (`CI=true`): then a missing broker fails the tests instead of skipping them.
    public static let isCI: Bool = ProcessInfo.processInfo.environment["CI"].map { $0 == "true" || $0 == "1" } ?? false

    /// The `noida-db` executable, or `nil` when it is not installed.
    public static let executable: String? = {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["NOIDA_DB"], !explicit.isEmpty { return explicit }
        for directory in (environment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(directory)/noida-db"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        let dataHome = environment["XDG_DATA_HOME"] ?? (NSHomeDirectory() + "/.local/share")
        let venv = "\(dataHome)/swift-dedup/noida-db/bin/noida-db"
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : nil
    }()

    /// Whether tests that need a broker should run: it is installed, or this is CI (where its
    /// absence must fail the run).
    public static let isRunnable: Bool = executable != nil || isCI

    /// The message for a suite skipped because `noida-db` is missing.
    public static let skipMessage: Comment =
        "noida-db is not installed: run scripts/install-deps.sh (or pip install noida-db); set CI=true to make this a failure"

    private init(pid: pid_t, port: Int, directory: TemporaryDirectory) {
        self.pid = pid
        self.port = port
        self.directory = directory
    }

    /// Starts a broker and waits until it accepts connections on its port.
    ///
    /// - Parameter label: Names the data directory (the calling test by default).
    /// - Throws: ``StartError`` when `noida-db` is not installed or did not come up within 60 s.
    public static func start(_ label: String = #function) throws -> KafkaBroker {
        guard let executable else {
            throw StartError(
                description:
                    "noida-db not found ($NOIDA_DB, PATH, ~/.local/share/swift-dedup/noida-db); run scripts/install-deps.sh or pip install noida-db"
            )
        }
        var lastFailure = ""
        // A port found free may be taken before the broker binds it: try a few.
        for _ in 0..<3 {
            let directory = TemporaryDirectory("kafka-" + label)
            let port = try freeLoopbackPort()
            let pid = try spawn(
                executable,
                [
                    "start", "--data-dir", directory.file("data"), "--host", "127.0.0.1", "--only", "kafka",
                    "--kafka-port", String(port),
                ],
                log: directory.file("noida-db.log"))
            let broker = KafkaBroker(pid: pid, port: port, directory: directory)
            if broker.waitUntilAccepting(deadline: .now + .seconds(60)) { return broker }
            lastFailure = broker.log
            broker.stop()
        }
        throw StartError(description: "noida-db did not accept connections within 60 s; its output:\n\(lastFailure)")
    }

    /// Runs `body` with a fresh broker and stops the broker afterwards, also when `body` throws.
    public static func with<R>(_ label: String = #function, _ body: (KafkaBroker) async throws -> R) async throws -> R {
        let broker = try start(label)
        defer { broker.stop() }
        return try await body(broker)
    }

    /// Stops the wrapper and its native child (the whole process group) and removes the data directory.
    public func stop() {
        kill(-pid, SIGTERM)
        if !waitForGroupToExit(seconds: 10) {
            kill(-pid, SIGKILL)
            _ = waitForGroupToExit(seconds: 10)
        }
        directory.remove()
    }

    /// Polls the port until a TCP connection succeeds; `false` when the process exited or time ran out.
    private func waitUntilAccepting(deadline: ContinuousClock.Instant) -> Bool {
        while ContinuousClock.now < deadline {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { return false }
            if Self.canConnect(port: port) { return true }
            usleep(20_000)
        }
        return false
    }

    /// Reaps the wrapper and waits until no live process is left in the group.
    private func waitForGroupToExit(seconds: Int) -> Bool {
        let deadline = ContinuousClock.now + .seconds(seconds)
        var reaped = false
        while ContinuousClock.now < deadline {
            var status: Int32 = 0
            if !reaped, waitpid(pid, &status, WNOHANG) == pid { reaped = true }
            if reaped && Self.liveMembers(ofGroup: pid).isEmpty { return true }
            usleep(20_000)
        }
        return false
    }

    /// The processes of a process group that have not exited (zombies left to init do not count).
    static func liveMembers(ofGroup group: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            // After "pid (comm) ": state ppid pgrp …
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, fields[0] != "Z", pid_t(fields[2]) == group else { return nil }
            return pid
        }
    }

    private static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        return address
    }

    /// A port the kernel reports free on 127.0.0.1.
    private static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw StartError(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw StartError(description: "bind 127.0.0.1:0: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Starts `path` with `arguments` as the leader of a new process group, stdin from /dev/null
    /// and stdout and stderr appended to `log`.
    private static func spawn(_ path: String, _ arguments: [String], log: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A new process group (so stop() reaches the native child too), with no signal blocked
        // and SIGTERM/SIGINT at their default action whatever the test runner did with them.
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        guard rc == 0 else { throw StartError(description: "posix_spawn \(path): \(String(cString: strerror(rc)))") }
        return pid
    }
}
