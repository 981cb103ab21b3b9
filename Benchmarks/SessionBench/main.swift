// speakerbridge-bench: the numbers the README quotes for the MQTT session and the plugin host, each beside a baseline
// measured in the same run on the same machine.
//
//   speakerbridge-bench --daemon PATH [--quick] [--only reconnect|intake|idle|startup|swap|ffi|reload-rss|announce|sonos]
//
// All traffic stays on 127.0.0.1: every broker is a LabKit MosquittoBroker bound to loopback, and
// every client (TestClient, mosquitto_sub, mosquitto_pub, the daemon) connects to 127.0.0.1.
// The one exception is `sonos` (SonosBench.swift): its SSDP/UPnP parts run inside network
// namespaces it creates and removes (RendererLab), and are skipped when not root.
// Progress goes to stderr; the results (plain table, then a markdown table) go to stdout.
import Foundation
import LabKit
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

// MARK: arguments (by hand: no argument parser dependency)

let benchNames = ["reconnect", "intake", "idle", "startup", "swap", "ffi", "reload-rss", "announce", "sonos"]
let usage = """
    usage: speakerbridge-bench --daemon PATH [--quick] [--only NAME]
      --daemon PATH  the speakerbridge binary to measure (a release build)
      --quick        smaller counts, for a smoke run
      --only NAME    run one benchmark: \(benchNames.joined(separator: ", "))
    """

func die(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(2)
}

var daemonPath: String?
var quick = false
var only: String?
do {
    var args = CommandLine.arguments.dropFirst()
    while let arg = args.popFirst() {
        switch arg {
        case "--daemon":
            guard let v = args.popFirst() else { die("--daemon needs a path\n" + usage) }
            daemonPath = v
        case "--quick": quick = true
        case "--only":
            guard let v = args.popFirst(), benchNames.contains(v) else {
                die("--only needs one of: \(benchNames.joined(separator: ", "))\n" + usage)
            }
            only = v
        case "-h", "--help":
            print(usage)
            exit(0)
        default: die("unknown argument \(arg)\n" + usage)
        }
    }
}
guard let daemonPath else { die("--daemon is required\n" + usage) }
guard FileManager.default.isExecutableFile(atPath: daemonPath) else { die("--daemon \(daemonPath) is not executable") }
// DaemonProcess finds the binary through SPEAKERBRIDGE_BIN.
setenv("SPEAKERBRIDGE_BIN", daemonPath, 1)
signal(SIGPIPE, SIG_IGN)

// MARK: results

struct Row {
    var metric: String
    var value: String
    var baseline: String
    var target: String
    var verdict: String
}

var rows: [Row] = []
var notes: [String] = []
/// Printed before the table: something the numbers alone would hide (lost or doubled answers).
var warnings: [String] = []
var failures = 0

func verdict(_ ok: Bool) -> String { ok ? "PASS" : "MISS" }

// MARK: 1. reconnect after a broker restart

/// t0 = the first moment a TCP connect to the restarted broker's port succeeds (polled every 2 ms);
/// t1 = the moment a new "mqtt: connected to" line appears in the daemon's log (polled every 2 ms).
/// This measures the daemon itself: a watcher client's receipt of the live `online` would add the
/// watcher's own reconnect (libmosquitto: 1 s or more) or depend on broker persistence. The log
/// line is written by the session thread right after the CONNACK (stderr is unbuffered), before
/// the birth message is published, so t1 is "the daemon has a working session again" (±2 ms).
///
/// Baseline, same restarts: `mosquitto_sub` (plain libmosquitto, whose loop_forever retries after
/// a fixed 1 s reconnect_delay) connected to the same broker; its t1 is the broker logging
/// "New client connected ... as <id>" for it again.
///
/// What is measured is "a broker restart after a healthy connection". Two daemon thresholds decide
/// what "healthy" means and are shortened so ten restarts fit the time budget; the reconnect path
/// itself is unchanged:
/// - `mqtt.reconnect.stable_after=2` (default 30 s): the backoff (full jitter, uniform in
///   [0, min_delay * 2^failures]) forgives earlier failures only after a connection lived this long.
///   With the default, restarts seconds apart measure an escalating backoff (ceilings 1, 2, 4 ... 60 s).
/// - `mqtt.twin.window=2` (default 10 s): a connection lost (MOSQ_ERR_CONN_LOST) within this window
///   counts as "kicked by a twin"; after 3 in a row the daemon suspects a twin and waits 0.9-1.0 x
///   max_delay (54-60 s). A broker killed three times within 10 s triggers exactly that.
/// Each round waits 3 s before the kill, so both thresholds see a healthy connection.
@MainActor func benchReconnect(rounds: Int) throws {
    progress("reconnect: \(rounds) broker restarts (kill -9, restart at once)")
    let broker = try MosquittoBroker(persistence: true, extraConfig: quietBrokerLog)
    try broker.start()
    defer { broker.kill9() }
    let daemon = try benchDaemon(brokerPort: broker.port, settings: [
        "mqtt.reconnect.min_delay": "1", "mqtt.reconnect.max_delay": "60", "mqtt.reconnect.stable_after": "2",
        "mqtt.twin.window": "2",
    ])
    defer { daemon.stopAndRemoveState() }
    try daemon.start()
    try daemon.waitUntilConnected()
    let baselineID = "sbbench-rc-\(UInt32.random(in: 0...UInt32.max))"
    let sub = try MosquittoTool("mosquitto_sub", port: broker.port, clientID: baselineID, ["-q", "1", "-t", "sbbench/none"])
    defer { sub.stop() }
    try waitForBrokerClient(broker, id: baselineID)

    let daemonLog = LogTail(daemon.logPath)
    var daemonTimes: [Double] = []
    var baselineTimes: [Double] = []
    var draws: [String] = []
    var restartMs: [Double] = []
    for round in 1...rounds {
        Thread.sleep(forTimeInterval: 3)  // > stable_after and twin.window: a healthy connection
        let brokerLog = LogTail(broker.logPath)
        _ = daemonLog.newLines()
        let killedAt = ContinuousClock.now
        broker.kill9()
        // start() blocks until it sees the listener itself (20 ms polls): run it aside and take t0
        // with our own 2 ms probe.
        let startResult = ResultBox()
        Thread.detachNewThread { startResult.set(Result { try broker.start() }) }
        guard waitUntil(timeout: 15, interval: 0.002, { tcpConnects(host: "127.0.0.1", port: broker.port) }) else {
            throw LabError("broker did not come back within 15 s")
        }
        let t0 = ContinuousClock.now
        restartMs.append(seconds(t0 - killedAt) * 1000)
        var tDaemon: ContinuousClock.Instant?
        var tBaseline: ContinuousClock.Instant?
        var delays: [String] = []
        let marker = " as \(baselineID) ("
        waitUntil(timeout: 70, interval: 0.002) {
            if tDaemon == nil {
                for line in daemonLog.newLines() {
                    if let r = line.range(of: "next connection attempt in ") {
                        delays.append(String(line[r.upperBound...].prefix(while: { $0 != " " })))
                    }
                    if line.contains("mqtt: connected to") { tDaemon = .now }
                }
            }
            if tBaseline == nil, brokerLog.count(marker) > 0 { tBaseline = .now }
            return tDaemon != nil && tBaseline != nil
        }
        guard waitUntil(timeout: 15, { startResult.get() != nil }), let started = startResult.get() else {
            throw LabError("broker start did not return")
        }
        try started.get()
        guard let tDaemon else { throw LabError("round \(round): daemon did not reconnect within 70 s\n\(logExcerpt(daemon))") }
        daemonTimes.append(seconds(tDaemon - t0))
        if let tBaseline { baselineTimes.append(seconds(tBaseline - t0)) }
        draws.append(delays.joined(separator: "+"))
        progress("round \(round): daemon \(fmt(daemonTimes.last!)) s (backoff draws \(draws.last!) s), "
                 + "mosquitto_sub \(tBaseline.map { fmt(seconds($0 - t0)) } ?? "-") s")
    }
    let m = median(daemonTimes)
    let floor = 1.0
    rows.append(Row(
        metric: "Reconnect after broker restart (median of \(rounds))",
        value: "\(fmt(m)) s (min \(fmt(daemonTimes.min()!)), max \(fmt(daemonTimes.max()!)))",
        baseline: baselineTimes.isEmpty ? "n/a"
            : "mosquitto_sub (fixed 1 s retry): \(fmt(median(baselineTimes))) s (min \(fmt(baselineTimes.min()!)), max \(fmt(baselineTimes.max()!)))",
        target: "< 1.5 x backoff floor (\(fmt(1.5 * floor, 1)) s)",
        verdict: verdict(m < 1.5 * floor)))
    notes.append("reconnect: t0 = restarted broker accepts TCP (kill -9 to t0: median \(fmt(median(restartMs), 0)) ms); "
        + "t1 = new \"mqtt: connected to\" line in the daemon log. min_delay=1 max_delay=60 stable_after=2 twin.window=2. "
        + "Daemon backoff draws per round (s): \(draws.joined(separator: ", ")). "
        + "All times (s): \(daemonTimes.map { fmt($0) }.joined(separator: " "))")
}

/// A Sendable slot for the result of work done on another thread.
final class ResultBox: Sendable {
    private let value = Mutex<Result<Void, any Error>?>(nil)
    func set(_ r: Result<Void, any Error>) { value.withLock { $0 = r } }
    func get() -> Result<Void, any Error>? { value.withLock { $0 } }
}

// MARK: 2. durable request intake

/// One publisher (TestClient, QoS 1, maxInflight 100: libmosquitto queues the rest and sends as
/// PUBACKs free the window; the broker's Receive Maximum applies on top, identically in all three
/// runs) publishes N small speak requests as fast as the window allows. A fresh broker per run, with
/// `max_queued_messages 0`: mosquitto's default (1000 per subscriber beyond its 20 in flight) would
/// silently drop QoS 1 messages for any subscriber slower than the publisher, and neither
/// mosquitto_sub nor the daemon would ever see N.
@MainActor func benchIntake(n: Int) throws {
    let payloads = (0..<n).map { Array("{\"id\":\"b\($0)\",\"text\":\"hi\"}".utf8) }
    let timeout = quick ? 60.0 : 120.0
    let intakeBrokerConfig = quietBrokerLog + ["max_queued_messages 0"]

    func publishAll(_ pub: TestClient, topic: String) throws -> ContinuousClock.Instant {
        let t0 = ContinuousClock.now
        for p in payloads { try pub.publish(topic: topic, payload: p, qos: 1) }
        return t0
    }

    // (a) bare: mosquitto_sub -q 1 -C N; rate = N / (first publish .. mosquitto_sub exit).
    progress("intake (a): bare mosquitto_sub -q 1, N=\(n)")
    let bare: Double
    do {
        let broker = try MosquittoBroker(extraConfig: intakeBrokerConfig)
        try broker.start()
        defer { broker.kill9() }
        let topic = "sbbench-bare/speak"
        let id = "sbbench-bare-\(UInt32.random(in: 0...UInt32.max))"
        let sub = try MosquittoTool("mosquitto_sub", port: broker.port, clientID: id, ["-q", "1", "-t", topic, "-C", String(n)])
        defer { sub.stop() }
        // Connected per the broker log; the SUBSCRIBE follows the CONNACK at once, 300 ms is ample.
        try waitForBrokerClient(broker, id: id)
        Thread.sleep(forTimeInterval: 0.3)
        let pub = try TestClient(maxInflight: 100)
        try pub.connect(port: broker.port)
        let t0 = try publishAll(pub, topic: topic)
        guard waitUntil(timeout: timeout, interval: 0.001, { !sub.isRunning }) else {
            throw LabError("mosquitto_sub did not receive \(n) messages within \(timeout) s")
        }
        let t1 = ContinuousClock.now
        bare = Double(n) / seconds(t1 - t0)
        pub.disconnect()
    }
    progress("bare: \(Int(bare)) msg/s")

    // (b), (c): the daemon; intake is complete when health's journal.recorded_total reaches N.
    func daemonRun(_ durability: String) throws -> (rate: Double, timedOut: Bool, info: String) {
        progress("intake: daemon journal.durability=\(durability), N=\(n)")
        let broker = try MosquittoBroker(extraConfig: intakeBrokerConfig)
        try broker.start()
        defer { broker.kill9() }
        // The burst is measured, not the journal's bound: with the default journal.max_pending
        // (10,000) a router that lags the publisher refuses the excess (answered, never recorded).
        let daemon = try benchDaemon(brokerPort: broker.port,
                                     settings: ["journal.durability": durability, "journal.max_pending": "1000000"])
        defer { daemon.stopAndRemoveState() }
        try daemon.start()
        try daemon.waitUntilConnected()
        let health = try HealthPoller(port: broker.port, daemon: daemon)
        var sentAt: [ContinuousClock.Instant] = []
        func ask() throws { try health.request(); sentAt.append(.now) }
        // An answer proves every subscription is in place: they were sent before the answer.
        try ask()
        guard waitUntil(timeout: 10, { !health.journals().isEmpty }) else { throw LabError("no health answer\n\(logExcerpt(daemon))") }

        let pub = try TestClient(maxInflight: 100)
        try pub.connect(port: broker.port)
        let t0 = try publishAll(pub, topic: daemon.topics.speak)
        let deadline = t0 + .seconds(timeout)
        var done: ContinuousClock.Instant?
        var last: [String: Any] = [:]
        var speakRecorded = 0
        while done == nil, ContinuousClock.now < deadline {
            try ask()
            Thread.sleep(forTimeInterval: 0.1)
            for (at, journal) in health.journals() where at > t0 {
                // recorded_total counts health requests too; subtract every one sent before this
                // answer arrived (an upper bound of those it can include).
                let total = (journal["recorded_total"] as? NSNumber)?.intValue ?? 0
                let healthSent = sentAt.filter { $0 < at }.count
                speakRecorded = max(speakRecorded, total - healthSent)
                last = journal
                if total - healthSent >= n { done = at; break }
            }
        }
        let end = done ?? .now
        let rate = Double(done == nil ? speakRecorded : n) / seconds(end - t0)
        let info = "durability=\(durability): pending at completion \(last["pending"] ?? "?"), "
            + "duplicates \(last["duplicates_total"] ?? "?"), answer latency granularity 100 ms"
        pub.disconnect()
        return (rate, done == nil, info)
    }
    let process = try daemonRun("process")
    progress("process: \(Int(process.rate)) msg/s")
    let fsync = try daemonRun("fsync")
    progress("fsync: \(Int(fsync.rate)) msg/s")

    let bareText = "bare mosquitto_sub -q 1: \(Int(bare.rounded())) msg/s"
    func value(_ r: (rate: Double, timedOut: Bool, info: String)) -> String {
        (r.timedOut ? "TIMED OUT, <= " : "") + "\(Int(r.rate.rounded())) msg/s (\(fmt(r.rate / bare, 2)) x bare)"
    }
    rows.append(Row(metric: "Durable intake, durability=process (N=\(n))", value: value(process), baseline: bareText,
                    target: ">= 0.5 x bare", verdict: verdict(!process.timedOut && process.rate >= 0.5 * bare)))
    let syncRate = try fdatasyncRate(duration: quick ? 0.5 : 2)
    rows.append(Row(metric: "Durable intake, durability=fsync (N=\(n))", value: value(fsync),
                    baseline: bareText + "; raw 64 B append+fdatasync: \(Int(syncRate.rounded()))/s",
                    target: "none (reported)", verdict: "n/a"))
    notes.append("intake: rate = N / (first publish .. first health answer with journal.recorded_total >= N, health requests "
        + "excluded); health polled every 100 ms and answered by the router in arrival order. "
        + process.info + "; " + fsync.info + ". The health answer waits behind every request recorded before it "
        + "(the router answers in order), so a router backlog delays the moment completion is seen: the daemon rates are "
        + "lower bounds of pure intake.")
}

// MARK: 3. idle RSS and CPU

@MainActor func benchIdle(window: Double) throws {
    progress("idle: \(fmt(window, 0)) s window")
    let broker = try MosquittoBroker(extraConfig: quietBrokerLog)
    try broker.start()
    defer { broker.kill9() }
    let daemon = try benchDaemon(brokerPort: broker.port)
    defer { daemon.stopAndRemoveState() }
    try daemon.start()
    try daemon.waitUntilConnected()
    let id = "sbbench-idle-\(UInt32.random(in: 0...UInt32.max))"
    let sub = try MosquittoTool("mosquitto_sub", port: broker.port, clientID: id, ["-q", "1", "-t", "sbbench/idle/#"])
    defer { sub.stop() }
    try waitForBrokerClient(broker, id: id)
    Thread.sleep(forTimeInterval: 1)  // let start-up work settle
    guard let pid = daemon.process.pid else { throw LabError("daemon has no pid") }
    let d0 = try ProcSample.take(pid: pid), s0 = try ProcSample.take(pid: sub.pid)
    Thread.sleep(forTimeInterval: window)
    let d1 = try ProcSample.take(pid: pid), s1 = try ProcSample.take(pid: sub.pid)
    guard daemon.process.isRunning else { throw LabError("daemon exited during the idle window") }
    rows.append(Row(metric: "Idle RSS (connected, \(fmt(window, 0)) s idle)", value: "\(fmt(d1.rssMB, 1)) MB (RssAnon \(fmt(d1.anonMB, 1)) MB)",
                    baseline: "idle mosquitto_sub: \(fmt(s1.rssMB, 1)) MB (RssAnon \(fmt(s1.anonMB, 1)) MB)", target: "< 25 MB", verdict: verdict(d1.rssMB < 25)))
    rows.append(Row(metric: "Idle CPU (same window)", value: "\(fmt(ProcSample.cpuPercent(d0, d1), 2)) % of a core",
                    baseline: "idle mosquitto_sub: \(fmt(ProcSample.cpuPercent(s0, s1), 2)) %", target: "none (reported)", verdict: "n/a"))
    notes.append("idle: VmRSS (target applies to it) at the end of the window, RssAnon = VmRSS minus file-backed pages (shared libraries); CPU = utime+stime delta (\(Int(sysconf(Int32(_SC_CLK_TCK)))) ticks/s) over the window")
}

// MARK: 4. start to online

/// t0 = just before spawning the daemon (fresh state directory, fresh base topic each time);
/// t1 = a watcher, subscribed beforehand, receives the live `online` on bridge/state.
/// Baseline: `mosquitto_pub -q 1 -m x -t t` run to completion against the same broker
/// (process start + connect + publish + PUBACK + exit).
@MainActor func benchStartup(runs: Int) throws {
    progress("startup: \(runs) daemon starts, \(runs) mosquitto_pub runs")
    let broker = try MosquittoBroker(extraConfig: quietBrokerLog)
    try broker.start()
    defer { broker.kill9() }
    let watcher = try TestClient()
    try watcher.connect(port: broker.port)
    var times: [Double] = []
    for _ in 1...runs {
        let daemon = try benchDaemon(brokerPort: broker.port)
        defer { daemon.stopAndRemoveState() }
        try watcher.subscribe(daemon.topics.state)
        let t0 = ContinuousClock.now
        try daemon.start()
        let online: ReceivedMessage
        do {
            online = try waitForOnline(watcher, daemon, after: t0, timeout: 20)
        } catch {
            throw LabError("no live online within 20 s\n\(logExcerpt(daemon))")
        }
        times.append(seconds(online.receivedAt - t0))
    }
    var pubTimes: [Double] = []
    for i in 1...runs {
        let t0 = ContinuousClock.now
        let pub = try MosquittoTool("mosquitto_pub", port: broker.port, clientID: "sbbench-pub-\(i)", ["-q", "1", "-m", "x", "-t", "t"])
        pub.process.waitUntilExit()
        let t1 = ContinuousClock.now
        guard pub.process.terminationStatus == 0 else { throw LabError("mosquitto_pub exited \(pub.process.terminationStatus)") }
        pubTimes.append(seconds(t1 - t0))
    }
    rows.append(Row(metric: "Start to online (median of \(runs))",
                    value: "\(fmt(median(times))) s (min \(fmt(times.min()!)), max \(fmt(times.max()!)))",
                    baseline: "mosquitto_pub -q 1 to completion: \(fmt(median(pubTimes))) s",
                    target: "none (reported)", verdict: "n/a"))
}

// MARK: run

let started = ContinuousClock.now
let mosquittoVersion = ((try? Shell.run(["mosquitto", "-h"]))?.out ?? "").split(separator: "\n").first.map(String.init) ?? "?"
let cpus = ProcessInfo.processInfo.activeProcessorCount
print("speakerbridge session and plugin benchmarks\(quick ? " (--quick)" : "")")
print("daemon: \(daemonPath)")
print("host: \(cpus) CPU(s), \(mosquittoVersion), all traffic on 127.0.0.1 (sonos: SSDP/UPnP inside its own network namespaces)")
print("")

let plan: [(String, () throws -> Void)] = [
    ("reconnect", { try benchReconnect(rounds: quick ? 3 : 10) }),
    ("intake", { try benchIntake(n: quick ? 3000 : 20000) }),
    ("idle", { try benchIdle(window: quick ? 3 : 10) }),
    ("startup", { try benchStartup(runs: quick ? 3 : 5) }),
    ("swap", { try benchSwap(reloads: quick ? 10 : 50, rate: 200) }),
    ("ffi", { try benchFFI(quick: quick) }),
    ("reload-rss", { try benchReloadRSS(rounds: quick ? 10 : 50) }),
    ("announce", { try benchAnnounce(n: quick ? 8 : 30) }),
    ("sonos", { try benchSonos(quick: quick) }),
]
for (name, run) in plan where only == nil || only == name {
    do {
        try run()
    } catch {
        failures += 1
        rows.append(Row(metric: name, value: "ERROR: \(error)", baseline: "", target: "", verdict: "ERROR"))
    }
}

for w in warnings { print("WARNING: \(w)") }
if !warnings.isEmpty { print("") }

// Plain table, aligned.
let header = Row(metric: "Measurement", value: "speakerbridge", baseline: "Baseline (same run)", target: "Target", verdict: "Verdict")
func cells(_ r: Row) -> [String] { [r.metric, r.value, r.baseline, r.target, r.verdict] }
let all = [header] + rows
let widths = (0..<5).map { i in all.map { cells($0)[i].split(separator: "\n").first.map(\.count) ?? 0 }.max() ?? 0 }
func line(_ r: Row) -> String {
    zip(cells(r), widths).map { c, w in
        let first = String(c.split(separator: "\n").first ?? "")
        return first.padding(toLength: w, withPad: " ", startingAt: 0)
    }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
}
print(line(header))
print(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
for r in rows { print(line(r)) }
print("")
for n in notes { print("note: \(n)") }
print("")
print("Markdown:")
print("")
print("| Measurement | speakerbridge | Baseline (same run) | Target | Verdict |")
print("|---|---|---|---|---|")
for r in rows {
    let cs = cells(r).map { $0.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }
    print("| " + cs.joined(separator: " | ") + " |")
}
print("")
print("total bench time: \(fmt(seconds(ContinuousClock.now - started), 0)) s")
exit(failures == 0 ? 0 : 1)
