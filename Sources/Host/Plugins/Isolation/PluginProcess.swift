import Foundation
import Logging
import Synchronization

/// One plugin host process: the daemon's own executable started as `speakerbridge plugin-host`,
/// connected by one socketpair (its fd 3), with stdin on /dev/null and stdout and stderr on a pipe
/// the daemon reads (each line goes to the daemon log, the last ones are kept for a crash report).
/// Nothing else is inherited: the spawn closes every other descriptor.
final class PluginProcess: Sendable {
    struct SpawnError: Error, CustomStringConvertible { let description: String }

    /// What an isolated plugin may use; the plugin host applies them to itself before it maps the plugin.
    struct Limits: Sendable, Equatable {
        /// RLIMIT_AS in MiB.
        var memoryLimitMB: Int
        /// RLIMIT_NOFILE.
        var openFilesLimit: Int

        init(memoryLimitMB: Int = 4096, openFilesLimit: Int = 256) {
            self.memoryLimitMB = memoryLimitMB
            self.openFilesLimit = openFilesLimit
        }
    }

    /// How the process ended.
    enum Ending: Sendable, Equatable, CustomStringConvertible {
        case exited(status: Int32)
        case signaled(Int32)

        var signalName: String? {
            guard case .signaled(let s) = self else { return nil }
            return PluginProcess.signalName(s)
        }

        var exitStatus: Int32? {
            guard case .exited(let s) = self else { return nil }
            return s
        }

        var description: String {
            switch self {
            case .exited(let status): "exited with status \(status)"
            case .signaled(let s): "crashed (\(PluginProcess.signalName(s)))"
            }
        }
    }

    /// How many of its last output lines are kept.
    static let keptLines = 20

    let pid: pid_t
    /// The daemon's end of the socketpair (the channel owns and closes it).
    let channelFD: Int32
    private let label: Mutex<String>
    private let lines = Mutex<[String]>([])
    private let state = Mutex<(ending: Ending?, waiters: [@Sendable (Ending) -> Void])>((nil, []))

    /// Starts `speakerbridge plugin-host` for the plugin file `name` (shown in `ps`). `onExit` runs
    /// once, on a helper thread, when the process has ended and its output is read.
    init(name: String, limits: Limits, logLevel: Logger.Level, logger: Logger,
         onExit: @escaping @Sendable (Ending) -> Void) throws(SpawnError) {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw SpawnError(description: "socketpair: \(String(cString: strerror(errno)))")
        }
        // The output "pipe" is a socketpair too: it is created close-on-exec in one step, so no
        // other child the daemon starts meanwhile inherits it.
        var output: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &output) == 0 else {
            let e = errno
            pair.forEach { _ = close($0) }
            throw SpawnError(description: "pipe: \(String(cString: strerror(e)))")
        }
        let executable = PluginProcess.ownExecutable()
        let arguments = [executable, "plugin-host", "--fd", "3", "--name", name,
                         "--memory-limit-mb", String(limits.memoryLimitMB), "--open-files-limit", String(limits.openFilesLimit),
                         "--log-level", logLevel.rawValue]
        let spawned = PluginProcess.spawn(executable, arguments, socket: pair[1], output: output[1])
        // The child's ends are the child's now (or nobody's, if the spawn failed).
        close(pair[1])
        close(output[1])
        let child: pid_t
        switch spawned {
        case .success(let p): child = p
        case .failure(let error):
            close(pair[0])
            close(output[0])
            throw error
        }
        // A plugin host that stops reading must not block a sender (a reader thread answering a
        // service call, an entry point) for ever: the send fails and the connection ends.
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(pair[0], SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        pid = child
        channelFD = pair[0]
        label = Mutex("plugin host \(name) (pid \(child))")
        let outputDone = DispatchSemaphore(value: 0)
        let readFD = output[0]
        let reader = Thread { [self] in
            readOutput(readFD, logger: logger)
            outputDone.signal()
        }
        reader.name = "plugin-host.output.\(name)"
        reader.start()
        let waiter = Thread { [self] in
            var status: Int32 = 0
            while waitpid(child, &status, 0) < 0 && errno == EINTR {}
            let ending: Ending = (status & 0x7f) == 0 ? .exited(status: (status >> 8) & 0xff) : .signaled(status & 0x7f)
            // The last lines (a backtrace, an assertion) belong in the report; a grandchild that
            // kept the pipe open cannot hold the report back for more than half a second.
            _ = outputDone.wait(timeout: .now() + 0.5)
            let waiters = state.withLock { s in
                s.ending = ending
                defer { s.waiters.removeAll() }
                return s.waiters
            }
            for w in waiters { w(ending) }
            onExit(ending)
        }
        waiter.name = "plugin-host.wait.\(name)"
        waiter.start()
    }

    /// Names the process in the log lines it writes (the plugin id, once known).
    func setLabel(_ text: String) {
        label.withLock { $0 = "\(text) (pid \(pid))" }
    }

    /// How it ended; nil while it runs.
    var ending: Ending? { state.withLock { $0.ending } }

    /// Waits for the end, at most `timeout` seconds; nil if it still runs then.
    func waitForExit(timeout: Double) async -> Ending? {
        await withCheckedContinuation { continuation in
            let once = ResumeOnce<Ending?>(continuation)
            let already = state.withLock { s -> Ending? in
                if let e = s.ending { return e }
                s.waiters.append { once.resume($0) }
                return nil
            }
            if let already {
                once.resume(already)
                return
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { once.resume(nil) }
        }
    }

    /// Sends `signal` while the process runs (never to a pid that was already reaped and may be reused).
    func kill(_ signal: Int32) {
        state.withLock { s in
            if s.ending == nil { _ = Glibc.kill(pid, signal) }
        }
    }

    /// The last lines it wrote, oldest first.
    var lastLines: [String] { lines.withLock { $0 } }

    /// Its resident memory in KiB (VmRSS of /proc/PID/status); nil once it has ended.
    var residentKB: UInt64? { ending == nil ? PluginProcess.residentKB(of: pid) : nil }

    static func residentKB(of pid: pid_t) -> UInt64? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return UInt64(line.dropFirst(6).split(separator: " ").first ?? "")
        }
        return nil
    }

    // MARK: output

    private func readOutput(_ fd: Int32, logger: Logger) {
        defer { close(fd) }
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 << 10)
        func emit(_ bytes: some Collection<UInt8>) {
            let line = String(decoding: bytes, as: UTF8.self)
            guard !line.isEmpty else { return }
            lines.withLock { l in
                l.append(line)
                if l.count > PluginProcess.keptLines { l.removeFirst(l.count - PluginProcess.keptLines) }
            }
            let who = label.withLock { $0 }
            logger.debug("\(who): \(line)")
        }
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            pending.append(contentsOf: chunk[0..<n])
            while let newline = pending.firstIndex(of: 0x0A) {
                emit(pending[..<newline])
                pending.removeSubrange(...newline)
            }
            // A line without an end that grows past a page is cut, so a runaway writer costs no memory.
            if pending.count > 4096 {
                emit(pending)
                pending.removeAll()
            }
        }
        emit(pending)
    }

    // MARK: spawning

    /// The daemon's own binary by its name (argv[0], for `ps`). The spawn itself executes
    /// /proc/self/exe: the very file the daemon runs, even after a package upgrade replaced or
    /// removed it on disk, so a plugin host is always the same build as its daemon.
    static func ownExecutable() -> String {
        guard let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return CommandLine.arguments[0] }
        return path.hasSuffix(" (deleted)") ? String(path.dropLast(10)) : path
    }

    private static func spawn(_ executable: String, _ arguments: [String], socket: Int32, output: Int32) -> Result<pid_t, SpawnError> {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output, 1)
        posix_spawn_file_actions_adddup2(&actions, output, 2)
        posix_spawn_file_actions_adddup2(&actions, socket, 3)
        // Nothing of the daemon's (the broker connection, the journal, listening sockets) reaches
        // plugin code: only 0-3 survive the exec.
        closeFrom(4, &actions)

        // Default signal dispositions and an empty mask, as Support/ChildProcess.swift explains:
        // the daemon ignores SIGTERM and SIGINT, and an ignored signal stays ignored across exec.
        var attributes = posix_spawnattr_t()
        ChildProcess.initDefaultSignals(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }

        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment().map { strdup($0) } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var child: pid_t = 0
        let rc = posix_spawn(&child, "/proc/self/exe", &actions, &attributes, argv, envp)
        guard rc == 0 else {
            return .failure(SpawnError(description: "cannot start \(executable) plugin-host: \(String(cString: strerror(rc)))"))
        }
        return .success(child)
    }

    /// posix_spawn_file_actions_addclosefrom_np (glibc 2.34), looked up at run time: Swift does not
    /// see its declaration. Without it, each descriptor open now is closed by name (one opened by
    /// another thread in between would slip through).
    private static func closeFrom(_ first: Int32, _ actions: inout posix_spawn_file_actions_t) {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") {
            _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, first)
            return
        }
        let open = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }
        for fd in open where fd >= first { posix_spawn_file_actions_addclose(&actions, fd) }
    }

    /// The daemon's environment, with two changes for the plugin host.
    private static func environment() -> [String] {
        var env = ProcessInfo.processInfo.environment
        // glibc makes a malloc arena per thread (64 MiB of address space each): with RLIMIT_AS set,
        // a plugin with a few threads would hit the cap without using the memory.
        env["MALLOC_ARENA_MAX"] = "2"
        // A crash is reported in a moment instead of after seconds of symbolication (the daemon
        // waits for the process to end); whoever wants the Swift backtrace sets it explicitly.
        if env["SWIFT_BACKTRACE"] == nil { env["SWIFT_BACKTRACE"] = "enable=no" }
        return env.map { "\($0.key)=\($0.value)" }
    }

    // MARK: signals

    private static let signalNames: [Int32: String] = [
        SIGSEGV: "SIGSEGV", SIGABRT: "SIGABRT", SIGKILL: "SIGKILL", SIGBUS: "SIGBUS", SIGILL: "SIGILL",
        SIGFPE: "SIGFPE", SIGTERM: "SIGTERM", SIGINT: "SIGINT", SIGHUP: "SIGHUP", SIGQUIT: "SIGQUIT",
        SIGPIPE: "SIGPIPE", SIGTRAP: "SIGTRAP", SIGSYS: "SIGSYS", SIGXCPU: "SIGXCPU", SIGXFSZ: "SIGXFSZ",
        SIGALRM: "SIGALRM", SIGUSR1: "SIGUSR1", SIGUSR2: "SIGUSR2",
    ]

    static func signalName(_ signal: Int32) -> String { signalNames[signal] ?? "signal \(signal)" }
}
