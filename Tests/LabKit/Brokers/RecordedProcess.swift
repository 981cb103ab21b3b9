import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A process LabKit started but does not hold as a child (an Erlang VM behind RabbitMQ's start
/// script): known only by the pid it wrote to its pid file. Signals go to that recorded pid and
/// nothing else, never to a process found by name: CI jobs and other test runs beside us run brokers
/// of their own.
struct RecordedProcess {
    let pid: Int32

    /// The pid in `file`, if the file holds one and that process is alive.
    init?(pidFile file: String) {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8),
              let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1 else { return nil }
        self.pid = pid
        guard isAlive else { return nil }
    }

    /// Alive and not yet a zombie (a killed VM stays a zombie until its start script reaps it).
    var isAlive: Bool {
        guard kill(pid, 0) == 0 else { return false }
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        guard let close = stat.lastIndex(of: ")") else { return false }
        return !stat[close...].hasPrefix(") Z")
    }

    /// SIGKILL, then waits until the process is gone (its sockets closed by the kernel).
    func kill9(timeout: Double = 10) {
        kill(pid, SIGKILL)
        waitUntil(timeout: timeout, interval: 0.01) { !isAlive }
    }
}
