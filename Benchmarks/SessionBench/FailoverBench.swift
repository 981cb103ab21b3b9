import Foundation
import LabKit

// MARK: 1b. failover to another broker of mqtt.brokers

/// Two mosquitto brokers A and B on 127.0.0.1, the daemon given both (`mqtt.brokers`). Each round
/// kills -9 the broker the daemon is on; t0 = just before the kill, t1 = the daemon's
/// "mqtt: connected to <the other broker>" log line (polled every 2 ms), the same t1 as the
/// single-broker reconnect figure above it. The killed broker is started again once the daemon has
/// moved, so the next round kills the other one (the daemon never flaps back by itself).
///
/// The same daemon settings as the reconnect figure, for the same reasons (see ReconnectBench):
/// min_delay=1 (the production default: the backoff floor of the target), max_delay=60,
/// stable_after=2 and twin.window=2, and 3 s of healthy connection before each kill.
@MainActor func benchFailover(rounds: Int) throws {
    progress("failover: \(rounds) kills of the daemon's broker, another one in mqtt.brokers")
    let brokers = [try MosquittoBroker(extraConfig: quietBrokerLog), try MosquittoBroker(extraConfig: quietBrokerLog)]
    for broker in brokers { try broker.start() }
    defer { for broker in brokers { broker.kill9() } }
    let list = brokers.map { "127.0.0.1:\($0.port)" }
    let minDelay = 1
    let daemon = try benchDaemon(brokerPort: brokers[0].port, moreBrokers: Array(list.dropFirst()), settings: [
        "mqtt.reconnect.min_delay": "\(minDelay)", "mqtt.reconnect.max_delay": "60", "mqtt.reconnect.stable_after": "2",
        "mqtt.twin.window": "2",
    ])
    defer { daemon.stopAndRemoveState() }
    let daemonLog = LogTail(daemon.logPath)
    try daemon.start()
    try daemon.process.waitForLog(containing: "mqtt: connected to \(list[0]) ", timeout: 20)

    var current = 0
    var times: [Double] = []
    var draws: [String] = []
    for round in 1...rounds {
        Thread.sleep(forTimeInterval: 3)  // > stable_after and twin.window: a healthy connection
        _ = daemonLog.newLines()
        let next = 1 - current
        let killedAt = ContinuousClock.now
        brokers[current].kill9()
        var connected: ContinuousClock.Instant?
        var delays: [String] = []
        waitUntil(timeout: 70, interval: 0.002) {
            for line in daemonLog.newLines() {
                if let r = line.range(of: "next connection attempt in ") {
                    delays.append(String(line[r.upperBound...].prefix(while: { $0 != " " })))
                }
                if line.contains("mqtt: connected to \(list[next]) ") { connected = .now }
            }
            return connected != nil
        }
        guard let connected else {
            throw LabError("round \(round): daemon not connected to \(list[next]) within 70 s\n\(logExcerpt(daemon))")
        }
        times.append(seconds(connected - killedAt))
        draws.append(delays.isEmpty ? "-" : delays.joined(separator: "+"))
        progress("round \(round): \(list[current]) killed -> connected to \(list[next]) after \(fmt(times.last!)) s "
                 + "(backoff draws \(draws.last!) s)")
        try brokers[current].start()
        current = next
    }
    let m = median(times)
    let target = 2 + Double(minDelay)
    rows.append(Row(
        metric: "Broker node killed -> connected to another node (median of \(rounds))",
        value: "\(fmt(m)) s (min \(fmt(times.min()!)), max \(fmt(times.max()!)))",
        baseline: "n/a: a client of one broker stays offline until it returns",
        target: "<= 2 s + backoff floor (\(fmt(target, 1)) s)",
        verdict: verdict(m <= target)))
    notes.append("failover: mqtt.brokers = 2 mosquitto brokers; t0 = kill -9 of the daemon's broker; "
        + "t1 = \"mqtt: connected to <the other>\" in the daemon log. min_delay=\(minDelay) max_delay=60 "
        + "stable_after=2 twin.window=2. Backoff draws per round (s): \(draws.joined(separator: ", ")). "
        + "All times (s): \(times.map { fmt($0) }.joined(separator: " "))")
}
