import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A long-running child (broker, daemon) whose stdout and stderr are appended to one file.
/// Internal building block for MosquittoBroker and DaemonProcess.
final class ChildProcess: Sendable {
    // Foundation's Process is not Sendable on every platform; it sits behind the Mutex so only
    // one thread touches it at a time.
    private let process: Mutex<Process>
    let pid: Int32

    /// Starts `arguments[0]` (absolute path, or looked up via /usr/bin/env when relative).
    init(_ arguments: [String], environment: [String: String]? = nil, outputPath: String) throws {
        let process = Process()
        if arguments[0].hasPrefix("/") {
            process.executableURL = URL(fileURLWithPath: arguments[0])
            process.arguments = Array(arguments.dropFirst())
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = arguments
        }
        if let environment { process.environment = environment }
        // O_APPEND so restarts and both streams add to the same file instead of overwriting.
        let fd = open(outputPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LabError("cannot open \(outputPath): \(String(cString: strerror(errno)))") }
        let out = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        process.standardOutput = out
        process.standardError = out
        process.standardInput = FileHandle.nullDevice
        try process.run()
        pid = process.processIdentifier
        self.process = Mutex(process)
    }

    var isRunning: Bool { process.withLock { $0.isRunning } }

    func send(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// Exit status, or 128+signal when killed by a signal (shell convention); nil on timeout.
    func waitForExit(timeout: Double) -> Int32? {
        guard waitUntil(timeout: timeout, interval: 0.01, { !isRunning }) else { return nil }
        return process.withLock { p in
            p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
        }
    }

    /// SIGKILL and reap; the kernel frees the listening socket once the process is gone.
    func kill9() {
        send(SIGKILL)
        _ = waitForExit(timeout: 10)
    }

    /// SIGTERM, wait up to `timeout`, then SIGKILL. Returns the exit status.
    @discardableResult
    func terminate(timeout: Double = 10) -> Int32? {
        send(SIGTERM)
        if let status = waitForExit(timeout: timeout) { return status }
        kill9()
        return waitForExit(timeout: 1)
    }
}
