import Foundation

/// `speakerbridge soak`: publishes announcements at a steady rate for a while, optionally restarts
/// the broker and kills the daemon, follows the daemon's events and state, and reports what
/// happened to every announcement (the accounting is `SoakLedger`'s).
public final class SoakRun {
    public enum QoSMix: String, Sendable, CaseIterable { case zero = "0", one = "1", mix }

    public struct Settings: Sendable {
        public var duration: Double = 300
        public var rate: Double = 2
        /// Names or ids; empty: every speaker of the log speaker plugin.
        public var speakers: [String] = []
        public var qos: QoSMix = .mix
        public var restartBrokerEvery: Double? = nil
        public var killDaemonEvery: Double? = nil
        /// Random broker restarts and daemon kills, each every 10-30 s.
        public var chaos = false
        /// How long to wait after the last publish for the final events.
        public var drain: Double = 60
        /// Start a private broker and daemon (required for restarts and kills).
        public var startDaemon = false
        public var pluginPath = ""
        /// `--set` settings passed on to a daemon the soak starts.
        public var daemonSettings: [String: String] = [:]
        /// Keep the private directory (logs, state) even when the soak passes.
        public var keep = false
        public init() {}
    }

    public struct Failure: Error, CustomStringConvertible { public let description: String }

    /// Output for people: `progress` is the line that changes every second, `note` a line that stays.
    public struct Output: Sendable {
        public let progress: @Sendable (String) -> Void
        public let note: @Sendable (String) -> Void
        public init(progress: @escaping @Sendable (String) -> Void, note: @escaping @Sendable (String) -> Void) {
            self.progress = progress
            self.note = note
        }
    }

    static let logSpeakerPlugin = "log-speaker"

    /// "30", "500ms", "30s", "5m", "1h".
    public static func parseSeconds(_ text: String) -> Double? { ConfigSetting.parseSeconds(text) }

    /// "5", "5/s", "0.5/s".
    public static func parseRate(_ text: String) -> Double? {
        let number = text.hasSuffix("/s") ? String(text.dropLast(2)) : text
        guard let value = Double(number.trimmingCharacters(in: .whitespaces)), value.isFinite else { return nil }
        return value
    }

    private let settings: Settings
    private let output: Output
    private var ledger = SoakLedger()
    private var health = SoakHealthTally()
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant
    private var lab: SoakLab?
    private var config: Configuration
    private var topics: Topics
    private var client: SoakClient?
    private var pendingAcks: [Int32: Int] = [:]
    /// Answers to requests someone waits for; the periodic health answers only feed the tally.
    private var answers: [String: JSONValue] = [:]
    private var awaiting: Set<String> = []
    private var brokerRestarts = 0
    private var daemonKills = 0
    private let runID = String(UInt32.random(in: 0...UInt32.max), radix: 36)

    public init(settings: Settings, config: Configuration, output: Output) {
        self.settings = settings
        self.config = config
        self.output = output
        topics = Topics(base: config.baseTopic)
        start = clock.now
    }

    private var now: Double { seconds(clock.now - start) }
    private func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

    /// Runs the whole soak and returns the report; throws when it could not even begin.
    public func run() throws -> SoakReport {
        defer {
            client?.close()
            lab?.stop()
        }
        if settings.startDaemon {
            let lab = try SoakLab(pluginPath: settings.pluginPath, extraSettings: settings.daemonSettings)
            self.lab = lab
            output.note("soak: private broker on 127.0.0.1:\(lab.port) and daemon \(lab.binary) (state and logs in \(lab.directory))")
            do {
                try lab.startBroker()
                try lab.startDaemon()
                config = try lab.clientConfiguration()
            } catch {
                throw Failure(description: "\(error)")
            }
            topics = Topics(base: config.baseTopic)
        }
        do {
            client = try SoakClient(config: config, filters: [topics.announcementEvents, topics.bridgeState,
                                                               topics.response("health"), topics.response("plugins")])
        } catch {
            throw Failure(description: error.description)
        }
        try waitForDaemon()
        let speakers = try resolveSpeakers()
        output.note("soak: \(String(format: "%g", settings.rate))/s for \(Int(settings.duration)) s to \(speakers.joined(separator: ", ")), QoS \(settings.qos.rawValue)")
        publishPhase(speakers: speakers)
        drainPhase()
        _ = askHealth(wait: 5)
        var report = ledger.report()
        report.seconds = settings.duration
        report.rate = settings.rate
        report.reconnects = health.reconnects
        report.daemonProcesses = health.processes
        report.disconnects = health.disconnects
        report.brokerRestarts = brokerRestarts
        report.daemonKills = daemonKills
        if let lab {
            lab.stop()
            if report.passed && !settings.keep { lab.remove() } else { output.note("soak: logs and state kept in \(lab.directory)") }
        }
        return report
    }

    // MARK: phases

    private func waitForDaemon() throws {
        let deadline = now + 30
        while now < deadline {
            pump()
            if ledger.daemonOnline { break }
            if let lab, !lab.daemonRunning {
                throw Failure(description: "the daemon exited during startup:\n" + SoakLab.tail(lab.daemonLog))
            }
            usleep(20_000)
        }
        // Retained messages of our first subscription have arrived by now (or never will).
        ledger.firstConnectionSettled()
        guard askHealth(wait: 10) != nil else {
            var why = "no answer to a health request within 10 s from base topic \(config.baseTopic) on \(config.brokerHost):\(config.brokerPort): is the daemon running?"
            if let lab { why += "\n" + SoakLab.tail(lab.daemonLog) }
            throw Failure(description: why)
        }
    }

    /// The named speakers as the daemon knows them, or every log speaker; waits for plugins to load.
    private func resolveSpeakers() throws -> [String] {
        let deadline = now + 30
        var known: [(plugin: String, id: String, name: String)] = []
        while now < deadline {
            known = []
            if let data = ask("plugins", wait: 5), case .array(let loaded)? = data["loaded"] {
                for p in loaded {
                    guard case .array(let speakers)? = p["speakers"] else { continue }
                    for s in speakers {
                        known.append((p["id"]?.stringValue ?? "", s["id"]?.stringValue ?? "", s["name"]?.stringValue ?? ""))
                    }
                }
            }
            if settings.speakers.isEmpty {
                let logSpeakers = known.filter { $0.plugin.contains(SoakRun.logSpeakerPlugin) }.map(\.name)
                if !logSpeakers.isEmpty { return logSpeakers }
            } else {
                let missing = settings.speakers.filter { want in
                    !known.contains { $0.id.lowercased() == want.lowercased() || $0.name.lowercased() == want.lowercased() }
                }
                if missing.isEmpty { return settings.speakers }
            }
            usleep(200_000)
        }
        let list = known.isEmpty ? "none" : known.map { "\($0.name) (\($0.id))" }.joined(separator: ", ")
        if settings.speakers.isEmpty {
            throw Failure(description: "the daemon has no log speaker loaded; name speakers with --speakers (speakers it has: \(list))")
        }
        throw Failure(description: "the daemon does not know \(settings.speakers.joined(separator: ", ")) (speakers it has: \(list))")
    }

    private func publishPhase(speakers: [String]) {
        var sent = 0
        var nextProgress = 1.0
        var nextHealth = 2.0
        var nextBrokerRestart = schedule(settings.restartBrokerEvery)
        var nextKill = schedule(settings.killDaemonEvery)
        var daemonRestartAt: Double? = nil
        var killDeferrals = 0
        while now < settings.duration {
            pump()
            let due = Int(settings.rate * now) + 1
            while sent < due && sent < Int(settings.rate * settings.duration) {
                publish(sent, speaker: speakers[sent % speakers.count])
                sent += 1
            }
            if let lab {
                if let at = daemonRestartAt, now >= at {
                    do { try lab.startDaemon() } catch { output.note("soak: cannot restart the daemon: \(error)") }
                    daemonRestartAt = nil
                }
                if let at = nextKill, now >= at, daemonRestartAt == nil {
                    // Fresh counters first: the daemon's health dies with it. A daemon that cannot
                    // answer right now (reconnecting) is killed a moment later instead.
                    guard askHealth(wait: 2) != nil || killDeferrals >= 5 else {
                        killDeferrals += 1
                        nextKill = now + 1
                        continue
                    }
                    killDeferrals = 0
                    lab.killDaemon()
                    daemonKills += 1
                    output.note(String(format: "soak: %.1f s: kill -9 the daemon (restarting it in 0.5 s)", now))
                    daemonRestartAt = now + 0.5
                    nextKill = schedule(settings.killDaemonEvery, chaos: settings.chaos).map { now + $0 }
                }
                if let at = nextBrokerRestart, now >= at {
                    output.note(String(format: "soak: %.1f s: restart the broker", now))
                    do { try lab.restartBroker() } catch { output.note("soak: cannot restart the broker: \(error)") }
                    brokerRestarts += 1
                    nextBrokerRestart = schedule(settings.restartBrokerEvery, chaos: settings.chaos).map { now + $0 }
                }
            }
            if now >= nextHealth {
                requestHealth()
                nextHealth = now + 2
            }
            if now >= nextProgress {
                progress(phase: "")
                nextProgress += 1
            }
            usleep(5_000)
        }
        if let lab, !lab.daemonRunning {
            do { try lab.startDaemon() } catch { output.note("soak: cannot restart the daemon: \(error)") }
        }
    }

    private func drainPhase() {
        let deadline = now + settings.drain
        var nextProgress = now + 1
        var nextHealth = now
        while now < deadline {
            pump()
            if ledger.unfinishedIDs == 0 && ledger.unfinishedIdless == 0 && ledger.awaitingAcknowledgement == 0 { break }
            if now >= nextHealth {
                requestHealth()
                nextHealth = now + 2
            }
            if now >= nextProgress {
                progress(phase: "waiting for final events")
                nextProgress += 1
            }
            usleep(10_000)
        }
        // Anything the daemon sent right after the last expected event (a duplicate) lands here.
        let settle = now + 1
        while now < settle { pump(); usleep(10_000) }
        progress(phase: "finished")
    }

    /// First occurrence: `every` (or 10-30 s with chaos), randomised by ±25 %.
    private func schedule(_ every: Double?, chaos: Bool = false) -> Double? {
        if let every { return every * Double.random(in: 0.75...1.25) }
        if chaos || settings.chaos { return Double.random(in: 10...30) }
        return nil
    }

    // MARK: traffic

    private func publish(_ n: Int, speaker: String) {
        let qos: Int32
        switch settings.qos {
        case .zero: qos = 0
        case .one: qos = 1
        case .mix: qos = Int32(n % 2)
        }
        // While our own connection is down libmosquitto keeps QoS 1 messages and sends them after
        // the reconnect, as any publisher would; QoS 0 ones cannot be sent at all.
        guard let client, client.isConnected || qos == 1 else { ledger.skipped(); return }
        // Half with an id (matched exactly), half without (counted), across both QoS levels.
        let id: String? = (n / 2) % 2 == 0 ? "soak-\(runID)-\(n)" : nil
        var request: [String: JSONValue] = ["text": .string("soak \(n)"), "speakers": [.string(speaker)], "rate": 450]
        if let id { request["id"] = .string(id) }
        let at = now
        guard let mid = client.publish(topics.speak, Array(JSONValue.object(request).serialized().utf8), qos: qos) else {
            ledger.skipped()
            return
        }
        ledger.published(seq: n, id: id, qos: Int(qos), at: at)
        if qos > 0 { pendingAcks[mid] = n }
    }

    /// Feeds everything the client saw into the ledger.
    private func pump() {
        guard let client else { return }
        for (instant, event) in client.drain() {
            let at = seconds(instant - start)
            switch event {
            case .connected: ledger.connection(up: true, at: at)
            case .disconnected: ledger.connection(up: false, at: at)
            case .published(let mid):
                if let seq = pendingAcks.removeValue(forKey: mid) { ledger.acknowledged(seq: seq) }
            case .message(let topic, let payload, let retained):
                if topic == topics.announcementEvents {
                    ledger.event(payload, at: at)
                } else if topic == topics.bridgeState {
                    ledger.bridgeState(payload, retained: retained, at: at)
                } else if let json = try? JSONValue.parse(payload), let transaction = json["transaction"]?.stringValue,
                          transaction.hasPrefix("soak-") {
                    if awaiting.contains(transaction) { answers[transaction] = json }
                    if json["status"] == "ok" { ledger.daemonAnswered(at: at) }
                    if topic == topics.response("health"), let data = json["data"] { health.health(data) }
                }
            }
        }
    }

    private var requests = 0

    @discardableResult
    private func requestHealth() -> String? { send("health") }

    private func send(_ name: String) -> String? {
        guard let client, client.isConnected else { return nil }
        requests += 1
        let transaction = "soak-\(runID)-r\(requests)"
        let body: JSONValue = ["transaction": .string(transaction)]
        guard client.publish(topics.request(name), Array(body.serialized().utf8), qos: 1) != nil else { return nil }
        return transaction
    }

    private func ask(_ name: String, wait: Double) -> JSONValue? {
        guard let transaction = send(name) else { return nil }
        awaiting.insert(transaction)
        defer { awaiting.remove(transaction); answers[transaction] = nil }
        let deadline = now + wait
        while now < deadline {
            pump()
            if let answer = answers.removeValue(forKey: transaction) {
                return answer["status"] == "ok" ? answer["data"] : nil
            }
            usleep(10_000)
        }
        return nil
    }

    private func askHealth(wait: Double) -> JSONValue? { ask("health", wait: wait) }

    private func progress(phase: String) {
        let r = ledger.report()
        var line = String(format: "%3.0f/%.0f s", min(now, settings.duration), settings.duration)
        line += "  sent \(r.sent)  done \(r.done)  failed \(r.failed)  waiting \(ledger.unfinishedIDs + ledger.unfinishedIdless)"
        if r.notSent > 0 { line += "  not sent \(r.notSent)" }
        line += "  daemon \(ledger.daemonOnline ? "online" : "offline")  onlines \(r.onlineEvents)"
        if brokerRestarts > 0 { line += "  broker restarts \(brokerRestarts)" }
        if daemonKills > 0 { line += "  kills \(daemonKills)" }
        if !phase.isEmpty { line += "  (\(phase))" }
        output.progress(line)
    }
}
