import Foundation
import XCTest

@testable import SpeakerbridgeHost

/// The doctor's verdicts from given facts: every way of not getting onto the broker has its own
/// words and fix, warnings never fail the report, and the daemon's answers are read as it sends them.
final class DoctorCheckTests: XCTestCase {
    private func config(_ body: (inout Configuration) -> Void = { _ in }) -> Configuration {
        var c = Configuration()
        c.mqtt.host = "broker.example"
        c.stateDirectory = NSTemporaryDirectory() + "doctor-\(UInt32.random(in: 0...UInt32.max))"
        body(&c)
        return c
    }

    func testConnackCodesAreToldApart() {
        XCTAssertEqual(BrokerProbe.classify(connack: 0, v5: true), .connected)
        guard case .badCredentials = BrokerProbe.classify(connack: 0x86, v5: true) else { return XCTFail("0x86") }
        guard case .notAuthorised = BrokerProbe.classify(connack: 0x87, v5: true) else { return XCTFail("0x87") }
        guard case .badCredentials = BrokerProbe.classify(connack: 4, v5: false) else { return XCTFail("3.1.1 code 4") }
        guard case .notAuthorised = BrokerProbe.classify(connack: 5, v5: false) else { return XCTFail("3.1.1 code 5") }
        guard case .rejected(let code, _) = BrokerProbe.classify(connack: 0x84, v5: true) else { return XCTFail("0x84") }
        XCTAssertEqual(code, 0x84)
    }

    func testEachBrokerFailureHasItsOwnSummaryAndAFix() {
        let c = config()
        let outcomes: [BrokerProbe.Outcome] = [
            .unresolvable("Name or service not known"), .refused, .timedOut(10), .unreachable("Network is unreachable"),
            .tlsFailed("MOSQ_ERR_TLS"), .badCredentials("Bad user name or password"), .notAuthorised("Not authorized"),
            .rejected(code: 0x84, "Unsupported protocol version"), .noAnswer("closed"), .noLogin("no password"),
        ]
        let checks = outcomes.map { BrokerCheck.check(c, $0) }
        for check in checks {
            XCTAssertEqual(check.verdict, .fail, check.summary)
            XCTAssertFalse((check.fix ?? "").isEmpty, check.summary)
        }
        XCTAssertEqual(Set(checks.map(\.summary)).count, checks.count, "every outcome reads differently")
        XCTAssertTrue(checks[1].summary.contains("refused the connection"))
        XCTAssertTrue(checks[6].summary.contains("not authorised"))
        XCTAssertFalse(checks[6].summary.contains("refused the connection"))
        XCTAssertEqual(BrokerCheck.check(c, .connected).verdict, .ok)
        // The embedded broker is there only while the daemon runs: the fix says to start it.
        let embedded = BrokerCheck.check(config { $0.mqtt.host = nil }, .refused)
        XCTAssertTrue(embedded.fix?.contains("speakerbridge run") ?? false, embedded.fix ?? "")
    }

    func testTLSTrustReadsTheCAFileBeforeTheHandshake() throws {
        let missing = TLSTrustCheck.check(config { $0.mqtt.tls.enabled = true; $0.mqtt.tls.caFile = "/nonexistent/ca.pem" }, .connected)
        XCTAssertEqual(missing.verdict, .fail)
        XCTAssertTrue(missing.summary.contains("cannot be read"), missing.summary)
        let file = NSTemporaryDirectory() + "doctor-ca-\(UInt32.random(in: 0...UInt32.max)).pem"
        try "not a certificate\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { unlink(file) }
        let garbage = TLSTrustCheck.check(config { $0.mqtt.tls.enabled = true; $0.mqtt.tls.caFile = file }, .connected)
        XCTAssertTrue(garbage.summary.contains("no PEM certificate"), garbage.summary)
        XCTAssertEqual(TLSTrustCheck.check(config(), .connected).verdict, .warn, "plain MQTT to another host")
        XCTAssertEqual(TLSTrustCheck.check(config { $0.mqtt.host = "127.0.0.1" }, .connected).verdict, .ok)
    }

    func testWarningsDoNotFailTheReport() {
        let warned = DoctorReport(checks: [.ok("a", "fine"), .warn("b", "look", fix: "do")])
        XCTAssertFalse(warned.failed)
        XCTAssertEqual(warned.exitStatus, 0)
        let failed = DoctorReport(checks: [.ok("a", "fine"), .fail("c", "broken", fix: "mend it")])
        XCTAssertEqual(failed.exitStatus, 1)
        XCTAssertTrue(failed.text.contains("FAIL  c"), failed.text)
        XCTAssertTrue(failed.text.contains("      fix: mend it"), failed.text)
        XCTAssertEqual(failed.json["ok"], .bool(false))
        XCTAssertEqual(failed.json["checks"]?.arrayValue?.last?["verdict"], "fail")
    }

    func testTheLockHolderComesFromTheKernelsLockTable() throws {
        let dir = NSTemporaryDirectory() + "doctor-lock-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        XCTAssertEqual(StateLock.holder(stateDirectory: dir), .noLockFile)
        try "4242\n".write(toFile: dir + "/lock", atomically: false, encoding: .utf8)
        XCTAssertEqual(StateLock.holder(stateDirectory: dir), .stale(pid: 4242))
        // Held by this very process, as the daemon holds it.
        let fd = open(dir + "/lock", O_RDWR)
        defer { close(fd) }
        XCTAssertEqual(flock(fd, LOCK_EX | LOCK_NB), 0)
        XCTAssertEqual(StateLock.holder(stateDirectory: dir), .heldBy(pid: Int(getpid())))
    }

    func testSubnetsContainTheirAddressesOnly() throws {
        let s = InterfaceSubnet(network: try XCTUnwrap(InterfaceSubnet.parse("192.168.1.77")), prefix: 24)
        XCTAssertEqual(s.description, "192.168.1.0/24")
        XCTAssertTrue(s.contains("192.168.1.5"))
        XCTAssertFalse(s.contains("192.168.2.5"))
        XCTAssertFalse(s.contains("speaker.local"))
        let lo = try XCTUnwrap(InterfaceSubnet.of(interface: "lo", address: "127.0.0.1"))
        XCTAssertEqual(lo.prefix, 8)
    }

    func testDaemonAnswersAreReadAsSent() {
        let c = config()
        let silent = DaemonAnswers(notAsked: "the broker could not be used (see broker)")
        XCTAssertEqual(SessionCheck.check(c, silent, lock: .noLockFile).verdict, .fail)
        XCTAssertTrue(SessionCheck.check(c, silent, lock: .noLockFile).fix?.contains("speakerbridge run") ?? false)
        XCTAssertEqual(SessionCheck.check(c, silent, lock: .heldBy(pid: 7)).verdict, .warn,
                       "a daemon holds the lock but the doctor could not ask it: the broker check says why")
        XCTAssertEqual(VoicesCheck.check(c, silent).verdict, .warn)
        XCTAssertTrue(VoicesCheck.check(c, silent).summary.hasPrefix("not checked"))

        let health: JSONValue = ["connected": true, "session_resumed": false, "reconnects": 0, "client_id": "me", "twin": false]
        var answers = DaemonAnswers(state: ["state": "online"], health: .data(health))
        XCTAssertEqual(SessionCheck.check(c, answers, lock: .heldBy(pid: 1)).verdict, .ok)
        XCTAssertEqual(TwinCheck.check(c, answers).verdict, .ok)
        answers.state = ["state": "online", "problem": "twin", "warning": "another client is using our client id me"]
        XCTAssertEqual(TwinCheck.check(c, answers).verdict, .warn)

        answers.voices = .error("no TTS plugin is loaded")
        XCTAssertEqual(VoicesCheck.check(c, answers).verdict, .fail)
        answers.voices = .data([["id": "en", "language": "en", "name": "English"], ["id": "de", "language": "de", "name": "German"]])
        XCTAssertTrue(VoicesCheck.check(c, answers).summary.hasPrefix("2 voices in 2 languages"))

        answers.info = .data(["version": "1"])
        XCTAssertEqual(HomeAssistantCheck.check(c, answers).verdict, .warn, "an info without the block: an older daemon")
        answers.info = .data(["homeassistant": ["enabled": true, "prefix": "ha", "configs": 7, "birth_seen": .null]])
        let unseen = HomeAssistantCheck.check(c, answers)
        XCTAssertEqual(unseen.verdict, .warn)
        XCTAssertTrue(unseen.summary.contains("ha/status"), unseen.summary)
        answers.info = .data(["homeassistant": ["enabled": true, "prefix": "ha", "configs": 7, "birth_seen": "2026-01-01T10:00:00Z"]])
        XCTAssertEqual(HomeAssistantCheck.check(c, answers).verdict, .ok)
        answers.info = .data(["homeassistant": ["enabled": false, "prefix": "ha", "configs": 0, "birth_seen": .null]])
        XCTAssertEqual(HomeAssistantCheck.check(c, answers).verdict, .ok)
    }

    func testASpeakerDriverWithNothingToDriveIsAWarning() {
        let c = config()
        XCTAssertTrue(SpeakerDriversCheck.check(c, DaemonAnswers(notAsked: "no broker")).summary.hasPrefix("not checked"))
        let tts: JSONValue = ["id": "org.speakerbridge.tts.espeak", "extensions": ["speakerbridge.tts/1"], "speakers": []]
        func sonos(_ speakers: [JSONValue]) -> JSONValue {
            ["id": "org.speakerbridge.sonos", "file": "/etc/speakerbridge/plugins/sonos.so",
             "extensions": ["speakerbridge.speaker/1", "speakerbridge.commands/1"], "speakers": .array(speakers)]
        }
        var answers = DaemonAnswers(plugins: .data(["loaded": [tts], "rejected": []]))
        XCTAssertEqual(SpeakerDriversCheck.check(c, answers).summary, "no speaker driver is loaded")
        answers.plugins = .data(["loaded": [tts, sonos([])], "rejected": []])
        let idle = SpeakerDriversCheck.check(c, answers)
        XCTAssertEqual(idle.verdict, .warn)
        XCTAssertEqual(idle.summary, "org.speakerbridge.sonos drives no speaker")
        XCTAssertTrue(idle.details.joined().contains("org.speakerbridge.sonos has nothing to drive: its settings (/etc/speakerbridge/plugins/sonos.json)"), "\(idle.details)")
        answers.plugins = .data(["loaded": [tts, sonos([["id": "kitchen", "name": "Kitchen"]])], "rejected": []])
        let busy = SpeakerDriversCheck.check(c, answers)
        XCTAssertEqual(busy.verdict, .ok)
        XCTAssertEqual(busy.summary, "1 driver with 1 speaker")
    }

    func testMediaAddressesAreJudgedAgainstTheSpeakersSubnet() throws {
        // Loopback stands in for the LAN interface here only to have a real interface with a mask.
        let lo = IPv4Interface(name: "lo", address: "127.0.0.1", isUp: true, isLoopback: false, supportsMulticast: true)
        XCTAssertEqual(MediaAddressCheck.check(config(), .success(lo)).verdict, .ok)
        XCTAssertEqual(MediaAddressCheck.check(config { $0.media.bind = "192.0.2.1" }, .success(lo)).verdict, .fail,
                       "an address this machine does not have")
        let advertised = MediaAddressCheck.check(config { $0.media.advertise = "127.0.0.9" }, .success(lo))
        XCTAssertTrue(advertised.details.joined().contains("127.0.0.9 (media.advertise), in the speakers' subnet 127.0.0.0/8"), advertised.details.joined())
        let down = MediaAddressCheck.check(config(), .failure(NetworkInterfaces.Problem(description: "no interface named eth9")))
        XCTAssertEqual(down.verdict, .fail)
    }
}
