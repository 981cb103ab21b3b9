import Foundation

/// The standard `process_*` figures, read from `/proc` at scrape time (the Prometheus client
/// libraries' names and meanings; swift-system-metrics would do this but is not available).
public struct ProcessStats: Sendable, Equatable {
    public var residentBytes: Double
    public var virtualBytes: Double
    /// User plus system CPU time.
    public var cpuSeconds: Double
    /// Seconds since the epoch.
    public var startTime: Double
    public var openFDs: Int
    /// The soft limit on open files; nil when unlimited.
    public var maxFDs: Int?

    public struct ParseError: Error, CustomStringConvertible {
        public let description: String
    }

    /// The parts of `/proc/<pid>/stat`, `/proc/stat` and `/proc/<pid>/limits` that matter, plus the
    /// open descriptors counted by the caller. `ticksPerSecond` and `pageSize` are the machine's
    /// (`sysconf(_SC_CLK_TCK)`, `sysconf(_SC_PAGESIZE)`).
    public static func parse(stat: String, systemStat: String, limits: String, openFDs: Int,
                             ticksPerSecond: Double, pageSize: Double) throws(ParseError) -> ProcessStats {
        // The command name (field 2) is in parentheses and may itself hold spaces and ')': the
        // fields that follow start after the last ')'.
        guard let close = stat.lastIndex(of: ")") else { throw ParseError(description: "/proc/self/stat: no ')' after the command name") }
        let fields = stat[stat.index(after: close)...].split(whereSeparator: { $0 == " " || $0 == "\n" })
        // fields[0] is field 3 (state): field n is fields[n - 3].
        func field(_ n: Int, _ name: String) throws(ParseError) -> Double {
            guard fields.count > n - 3, let value = Double(fields[n - 3]) else {
                throw ParseError(description: "/proc/self/stat: field \(n) (\(name)) is missing or not a number")
            }
            return value
        }
        let utime = try field(14, "utime"), stime = try field(15, "stime")
        let starttime = try field(22, "starttime"), vsize = try field(23, "vsize"), rss = try field(24, "rss")

        guard let btimeLine = systemStat.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
              let bootTime = Double(btimeLine.dropFirst("btime ".count).trimmingCharacters(in: .whitespaces)) else {
            throw ParseError(description: "/proc/stat: no btime line")
        }

        guard let filesLine = limits.split(separator: "\n").first(where: { $0.hasPrefix("Max open files") }),
              let soft = filesLine.dropFirst("Max open files".count).split(separator: " ").first else {
            throw ParseError(description: "/proc/self/limits: no \"Max open files\" line")
        }
        let maxFDs: Int?
        if soft == "unlimited" {
            maxFDs = nil
        } else if let n = Int(soft) {
            maxFDs = n
        } else {
            throw ParseError(description: "/proc/self/limits: \"Max open files\" soft limit \"\(soft)\" is not a number")
        }

        return ProcessStats(residentBytes: rss * pageSize, virtualBytes: vsize,
                            cpuSeconds: (utime + stime) / ticksPerSecond,
                            startTime: bootTime + starttime / ticksPerSecond, openFDs: openFDs, maxFDs: maxFDs)
    }

    /// This process's figures now.
    public static func current() throws(ParseError) -> ProcessStats {
        func read(_ path: String) throws(ParseError) -> String {
            do { return try String(contentsOfFile: path, encoding: .utf8) } catch {
                throw ParseError(description: "\(path): \(error.localizedDescription)")
            }
        }
        let stat = try read("/proc/self/stat"), systemStat = try read("/proc/stat"), limits = try read("/proc/self/limits")
        let fds: Int
        do { fds = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count } catch {
            throw ParseError(description: "/proc/self/fd: \(error.localizedDescription)")
        }
        return try parse(stat: stat, systemStat: systemStat, limits: limits, openFDs: fds,
                         ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))), pageSize: Double(sysconf(Int32(_SC_PAGESIZE))))
    }
}
