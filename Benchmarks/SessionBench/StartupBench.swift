import Foundation
import LabKit

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
