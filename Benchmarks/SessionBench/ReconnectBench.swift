import Foundation
import LabKit
import Synchronization

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
