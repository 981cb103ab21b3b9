import Foundation
import LabKit
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

// Small helpers for the session benchmarks: timing, statistics, /proc sampling, log tailing,
// the daemon and plain mosquitto clients as child processes. Everything talks to 127.0.0.1 only.

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

func median(_ xs: [Double]) -> Double {
    precondition(!xs.isEmpty)
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func fmt(_ x: Double, _ digits: Int = 3) -> String { String(format: "%.\(digits)f", x) }

/// Progress goes to stderr so stdout carries only the results.
func progress(_ text: String) {
    FileHandle.standardError.write(Data(("  .. " + text + "\n").utf8))
}

/// Broker logging for benchmarks: `log_type all` (LabKit's default) writes and flushes a line
/// per PUBLISH/PUBACK, which would slow the broker in the throughput runs. Connection lines
/// ("New client connected ... as ID", information level) are still logged: the bare baselines
/// are detected through them.
let quietBrokerLog = ["log_type none", "log_type error", "log_type warning", "log_type notice", "log_type information"]

/// Reads what was appended to a text file since the last call; counts occurrences of a marker
/// across calls without double counting or missing one split between two reads.
final class LogTail {
    let path: String
    private var offset: UInt64 = 0
    private var carry = ""

    init(_ path: String, fromEnd: Bool = true) {
        self.path = path
        if fromEnd, let attrs = try? FileManager.default.attributesOfItem(atPath: path),
           let size = attrs[.size] as? NSNumber {
            offset = size.uint64Value
        }
    }

    /// Complete new lines since the last call.
    func newLines() -> [String] {
        guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        // A file that shrank was truncated or replaced: start again from its beginning.
        if let size = try? handle.seekToEnd(), size < offset { offset = 0; carry = "" }
        try? handle.seek(toOffset: offset)
        let data = handle.readDataToEndOfFile()
        if data.isEmpty { return [] }
        offset += UInt64(data.count)
        var text = carry + String(decoding: data, as: UTF8.self)
        if let lastNewline = text.lastIndex(of: "\n") {
            carry = String(text[text.index(after: lastNewline)...])
            text = String(text[..<lastNewline])
        } else {
            carry = text
            return []
        }
        return text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    func count(_ marker: String) -> Int { newLines().filter { $0.contains(marker) }.count }
}

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

/// One speakerbridge daemon with its own state directory and base topic.
final class BenchDaemon {
    let dir: TempDirectory
    let base: String
    let process: DaemonProcess
    var stateTopic: String { base + "/bridge/state" }
    var speakTopic: String { base + "/speak" }
    var healthRequestTopic: String { base + "/bridge/request/health" }
    var healthResponseTopic: String { base + "/bridge/response/health" }
    var logPath: String { process.logPath }

    init(brokerPort: Int, settings: [String: String] = [:]) throws {
        dir = try TempDirectory(prefix: "sbbench")
        base = "sbbench\(UInt32.random(in: 0...UInt32.max))"
        var all = ["base_topic": base]
        all.merge(settings) { $1 }
        var args = ["run", "--broker", "127.0.0.1:\(brokerPort)", "--state-dir", dir.path + "/state"]
        for (k, v) in all.sorted(by: { $0.key < $1.key }) { args += ["--set", "\(k)=\(v)"] }
        process = DaemonProcess(arguments: args, logPath: dir.file("daemon.log"))
    }

    func start() throws { try process.start() }

    /// SIGTERM, then SIGKILL if it is still there after 10 s; removes the state directory.
    func stop() {
        if process.isRunning {
            process.terminate()
            if process.waitForExit(timeout: 10) == nil { process.kill9() }
        }
        dir.remove()
    }

    func waitConnected(timeout: Double = 20) throws {
        try process.waitForLog(containing: "mqtt: connected to", timeout: timeout)
    }

    deinit { if process.isRunning { process.kill9() } }
}

/// A plain mosquitto command-line client (mosquitto_sub / mosquitto_pub) as a child process,
/// output discarded.
final class MosquittoTool {
    let process = Process()
    let clientID: String

    /// `tool` is "mosquitto_sub" or "mosquitto_pub"; host, port, MQTT 5 and a client id are added.
    init(_ tool: String, port: Int, clientID: String, _ arguments: [String]) throws {
        self.clientID = clientID
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool, "-h", "127.0.0.1", "-p", String(port), "-V", "mqttv5", "-i", clientID] + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}

/// Polls health on a daemon: one request every `interval`, without waiting for the previous answer
/// (the router answers bridge requests in arrival order, after the speak requests before them).
final class HealthPoller {
    let client: TestClient
    let daemon: BenchDaemon
    private(set) var sent = 0

    init(port: Int, daemon: BenchDaemon) throws {
        self.daemon = daemon
        client = try TestClient()
        try client.connect(port: port)
        try client.subscribe(daemon.healthResponseTopic)
    }

    func request() throws {
        sent += 1
        try client.publish(topic: daemon.healthRequestTopic, payload: "{\"transaction\":\"bench-\(sent)\"}", qos: 1)
    }

    /// `data.journal` of every health answer so far, with the time it arrived.
    func journals() -> [(at: ContinuousClock.Instant, journal: [String: Any])] {
        client.messages(on: daemon.healthResponseTopic).compactMap { m in
            guard let o = (try? JSONSerialization.jsonObject(with: Data(m.payload))) as? [String: Any],
                  o["status"] as? String == "ok",
                  let data = o["data"] as? [String: Any],
                  let journal = data["journal"] as? [String: Any] else { return nil }
            return (m.receivedAt, journal)
        }
    }
}

/// A live (not retained) `{"state":"online"}` received by `client` on `topic` after `after`.
func liveOnline(_ client: TestClient, topic: String, after: ContinuousClock.Instant) -> ReceivedMessage? {
    client.messages(on: topic).first { m in
        guard !m.retain, m.receivedAt > after,
              let o = (try? JSONSerialization.jsonObject(with: Data(m.payload))) as? [String: Any] else { return false }
        return o["state"] as? String == "online"
    }
}

/// Waits until the broker log shows that client `id` connected (`count` times in total).
func waitForBrokerClient(_ broker: MosquittoBroker, id: String, count: Int = 1, timeout: Double = 10) throws {
    let marker = " as \(id) ("
    guard waitUntil(timeout: timeout, interval: 0.005, {
        ((try? String(contentsOfFile: broker.logPath, encoding: .utf8)) ?? "").components(separatedBy: marker).count - 1 >= count
    }) else {
        throw LabError("broker log shows no connection of \(id) within \(timeout) s")
    }
}

/// Last lines of a text file, for error messages.
func lastLines(_ path: String, _ count: Int = 15) -> String {
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    return "--- \(path):\n" + text.split(separator: "\n").suffix(count).joined(separator: "\n")
}

/// Appends of a small record, each followed by fdatasync, per second, in a scratch file under /tmp
/// (the file system the daemon's state directories live on): the ceiling for one sync per message.
func fdatasyncRate(duration: Double) throws -> Double {
    let dir = try TempDirectory(prefix: "sbbench-sync")
    defer { dir.remove() }
    let fd = open(dir.file("journal"), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw LabError("cannot open a scratch file: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    let record = [UInt8](repeating: 0x61, count: 64)
    let start = ContinuousClock.now
    var count = 0
    while seconds(ContinuousClock.now - start) < duration {
        guard record.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == record.count, fdatasync(fd) == 0 else {
            throw LabError("write/fdatasync failed: \(String(cString: strerror(errno)))")
        }
        count += 1
    }
    return Double(count) / seconds(ContinuousClock.now - start)
}
