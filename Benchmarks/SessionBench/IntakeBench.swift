import Foundation
import LabKit
#if canImport(Glibc)
import Glibc
#endif

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
