import Foundation
import LabKit
#if canImport(Glibc)
import Glibc
#endif

/// CPU time (user+system, seconds) and resident memory of a live process, from /proc.
struct ProcSample {
    let cpuSeconds: Double
    let rssMB: Double
    /// RssAnon: the process's own memory, without the file-backed (shared library) pages.
    let anonMB: Double
    let at: ContinuousClock.Instant

    static func take(pid: Int32) throws -> ProcSample {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // The command name (field 2) may contain spaces; fields after the closing paren start at 3.
        guard let close = stat.lastIndex(of: ")") else { throw LabError("cannot parse /proc/\(pid)/stat") }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let utime = Double(fields[11]), let stime = Double(fields[12]) else {
            throw LabError("cannot parse /proc/\(pid)/stat")
        }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        func kb(_ key: String) throws -> Double {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key + ":") }),
                  let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else {
                throw LabError("no \(key) in /proc/\(pid)/status")
            }
            return kb
        }
        return ProcSample(cpuSeconds: (utime + stime) / ticks, rssMB: try kb("VmRSS") / 1024,
                          anonMB: try kb("RssAnon") / 1024, at: .now)
    }

    /// CPU use between two samples, in percent of one core.
    static func cpuPercent(_ a: ProcSample, _ b: ProcSample) -> Double {
        100 * (b.cpuSeconds - a.cpuSeconds) / seconds(b.at - a.at)
    }
}
