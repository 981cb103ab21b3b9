import Foundation
import LabKit
import XCTest

/// `speakerbridge doctor` against real brokers, the real daemon and real plugins: a healthy setup is
/// all ok (exit 0); each broken piece is named with its fix, and only a FAIL makes the exit status 1.
final class DoctorTests: XCTestCase {
    /// One doctor run: its exit status, its text (for failure messages) and its checks by name.
    struct Run {
        let status: Int32
        let output: String
        let checks: [String: [String: Any]]

        func verdict(_ name: String) -> String { checks[name]?["verdict"] as? String ?? "missing" }
        func summary(_ name: String) -> String { checks[name]?["summary"] as? String ?? "" }
        func fix(_ name: String) -> String { checks[name]?["fix"] as? String ?? "" }
        func details(_ name: String) -> String { (checks[name]?["details"] as? [String] ?? []).joined(separator: "\n") }
        var notOk: [String] { checks.filter { $0.value["verdict"] as? String != "ok" }.map(\.key).sorted() }
    }

    /// Runs the doctor twice, as a user would and with --json; `prefix` wraps the command
    /// (ip netns exec, unshare).
    private func doctor(_ args: [String], prefix: [String] = [], environment: [String: String] = [:]) throws -> Run {
        let command = prefix + ["env"] + environment.map { "\($0)=\($1)" } + [try DaemonProcess.binaryPath(), "doctor"] + args
        let text = try Shell.run(command)
        let machine = try Shell.run(command + ["--json"])
        XCTAssertEqual(text.status, machine.status, "text and JSON agree on the verdict")
        print("$ speakerbridge doctor (exit \(text.status))\n\(text.out)\(text.err)")
        let json = try JSONSerialization.jsonObject(with: Data(machine.out.utf8)) as? [String: Any] ?? [:]
        var checks: [String: [String: Any]] = [:]
        for c in json["checks"] as? [[String: Any]] ?? [] { checks[c["name"] as? String ?? "?"] = c }
        XCTAssertEqual(json["ok"] as? Bool, machine.status == 0, machine.out)
        return Run(status: text.status, output: text.out + text.err, checks: checks)
    }

    /// The daemon's own command line, as `doctor` arguments: the same configuration.
    private func sameConfiguration(as daemon: DaemonUnderTest) -> [String] { Array(daemon.process.arguments.dropFirst()) }

    func testAHealthySetupIsAllOkAndExitsZero() throws {
        try requireRoot("the doctor on a healthy LAN")
        // A lab LAN, so the discovery interface and the media address are real ones with multicast,
        // and nothing touches this machine's own network.
        let lab = try NetnsLab(hosts: 2)
        let host = lab.hosts[0]
        let broker = try MosquittoBroker(netns: host.name)
        try broker.start()
        let plugins = try TempDirectory(prefix: "sbplugins")
        let scratch = try TempDirectory(prefix: "sbscratch")
        try PluginBuild.ttsPlugin(to: plugins.file("tts-espeak.so"))
        try writeJSON(["cache_dir": scratch.file("tts-cache")], to: plugins.file("tts-espeak.json"))
        try PluginBuild.logSpeaker(to: plugins.file("log-speaker.so"))
        try writeJSON(["log": scratch.file("speakers.txt"), "speakers": ["Kitchen"]], to: plugins.file("log-speaker.json"))
        let prefix = "hadoctor\(UInt32.random(in: 0...UInt32.max))"
        let daemon = try DaemonUnderTest(brokerPort: broker.port, settings: [
            "plugins.path": plugins.path, "network.interface": host.interface, "homeassistant.discovery_prefix": prefix,
        ], netns: host.name)
        defer { daemon.stopAndRemoveState() }
        try daemon.start()
        try daemon.process.waitForLog(containing: "mqtt: connected to", timeout: 20)
        let inLab = ["ip", "netns", "exec", host.name]
        // Home Assistant's birth message, as HA sends it when it connects.
        var run: Run? = nil
        XCTAssertTrue(waitUntil(timeout: 30, interval: 0.5) {
            _ = try? Shell.run(inLab + ["mosquitto_pub", "-h", "127.0.0.1", "-p", "\(broker.port)", "-t", "\(prefix)/status", "-m", "online"])
            run = try? doctor(sameConfiguration(as: daemon), prefix: inLab)
            return run?.status == 0 && run?.notOk.isEmpty == true
        }, "not all ok:\n\(run?.output ?? "no run")")
        let healthy = try XCTUnwrap(run)
        XCTAssertEqual(healthy.status, 0)
        XCTAssertEqual(healthy.checks.count, 12, healthy.output)
        XCTAssertTrue(healthy.summary("network interface").contains("lab0 (\(host.address)) is up with multicast"), healthy.output)
        XCTAssertTrue(healthy.summary("media address").contains("in the speakers' subnet \(lab.subnet).0/24"), healthy.output)
        XCTAssertTrue(healthy.details("state directory").contains("locked by the running daemon, process \(daemon.process.pid ?? -1)"), healthy.output)
        XCTAssertTrue(healthy.summary("plugins").contains("log-speaker.so, tts-espeak.so"), healthy.output)
        XCTAssertTrue(healthy.summary("voices").contains("voices in"), healthy.output)
    }

    func testABrokerThatIsDownFailsWithTheFixAndExitsOne() throws {
        let state = try TempDirectory(prefix: "sbdoctor")
        let port = freePort()
        let run = try doctor(["--broker", "127.0.0.1:\(port)", "--state-dir", state.file("state"), "--set", "plugins.path=\(state.file("plugins"))"])
        XCTAssertEqual(run.status, 1, run.output)
        XCTAssertEqual(run.verdict("broker"), "fail")
        XCTAssertTrue(run.summary("broker").contains("refused the connection: nothing listens on port \(port)"), run.output)
        XCTAssertTrue(run.fix("broker").contains("start the broker on 127.0.0.1"), run.output)
        XCTAssertTrue(run.output.contains("FAIL  broker") && run.output.contains("fix: start the broker"), run.output)
        // Nothing to ask without a broker: the daemon's checks say why instead of guessing.
        XCTAssertEqual(run.verdict("session"), "fail")
        XCTAssertTrue(run.fix("session").contains("speakerbridge run"), run.output)
        XCTAssertTrue(run.summary("voices").hasPrefix("not checked"), run.output)
    }

    func testAnUnknownNameAndASilentHostAreToldApart() throws {
        try requireRoot("name lookup and a silent host inside a lab (no query or packet leaves it)")
        let lab = try NetnsLab(hosts: 2)
        let (me, peer) = (lab.hosts[0], lab.hosts[1])
        let state = try TempDirectory(prefix: "sbdoctornet")
        let inLab = ["ip", "netns", "exec", me.name]
        let unknown = try doctor(["--broker", "no-such-broker.invalid", "--state-dir", state.file("state")], prefix: inLab)
        XCTAssertEqual(unknown.status, 1, unknown.output)
        XCTAssertTrue(unknown.summary("broker").hasPrefix("cannot resolve the broker's host name no-such-broker.invalid"), unknown.output)
        XCTAssertTrue(unknown.fix("broker").contains("mqtt.host"), unknown.output)

        // The peer's cable unplugged, its address kept in our neighbour table: the SYN goes out and
        // nothing ever answers, as with a firewall that drops.
        let mac = try lab.exec(host: peer, ["cat", "/sys/class/net/\(peer.interface)/address"]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        try lab.linkDown(host: peer)
        try Shell.runChecked(["ip", "-n", me.name, "neigh", "replace", peer.address, "lladdr", mac, "dev", me.interface, "nud", "permanent"])
        let silent = try doctor(["--broker", "\(peer.address):1883", "--state-dir", state.file("state"),
                                 "--set", "mqtt.reconnect.connect_timeout=2"], prefix: inLab)
        XCTAssertEqual(silent.status, 1, silent.output)
        XCTAssertEqual(silent.summary("broker"), "no answer from \(peer.address):1883 within 2.0 s", silent.output)
        XCTAssertTrue(silent.fix("broker").contains("port 1883 is open"), silent.output)
    }

    func testAWrongPasswordIsNotAuthorisedNotRefused() throws {
        let dir = try TempDirectory(prefix: "sbdoctorpw")
        try Shell.runChecked(["mosquitto_passwd", "-b", "-c", dir.file("passwords"), "bridge", "right"])
        let broker = try MosquittoBroker(extraConfig: ["allow_anonymous false", "password_file \(dir.file("passwords"))"])
        try broker.start()
        let args = ["--broker", "127.0.0.1:\(broker.port)", "--state-dir", dir.file("state"), "--set", "mqtt.username=bridge"]
        let wrong = try doctor(args, environment: ["SPEAKERBRIDGE_MQTT_PASSWORD": "wrong"])
        XCTAssertEqual(wrong.status, 1, wrong.output)
        XCTAssertEqual(wrong.verdict("broker"), "fail")
        XCTAssertTrue(wrong.summary("broker").contains("refused user bridge: not authorised"), wrong.output)
        XCTAssertFalse(wrong.summary("broker").contains("nothing listens"), wrong.output)
        XCTAssertTrue(wrong.fix("broker").contains("mqtt.username and the password"), wrong.output)

        let right = try doctor(args, environment: ["SPEAKERBRIDGE_MQTT_PASSWORD": "right"])
        XCTAssertEqual(right.verdict("broker"), "ok", right.output)
        XCTAssertTrue(right.summary("broker").contains("with user bridge"), right.output)
    }

    func testAWrongCAFailsTheTLSTrustCheck() throws {
        let dir = try TempDirectory(prefix: "sbdoctortls")
        let pki = try TestPKI.make(in: dir.path)
        try FileManager.default.createDirectory(atPath: dir.file("other"), withIntermediateDirectories: true)
        let other = try TestPKI.makeOtherCA(in: dir.file("other"))
        let broker = try MosquittoBroker(tls: (pki.caCert, pki.serverCert, pki.serverKey))
        try broker.start()
        let args = ["--broker", "localhost:\(broker.port)", "--state-dir", dir.file("state")]

        let wrong = try doctor(args + ["--set", "mqtt.tls.ca_file=\(other.cert)"])
        XCTAssertEqual(wrong.status, 1, wrong.output)
        XCTAssertEqual(wrong.verdict("tls"), "fail", wrong.output)
        XCTAssertTrue(wrong.summary("tls").contains("not accepted with \(other.cert)"), wrong.output)
        XCTAssertTrue(wrong.fix("tls").contains("mqtt.tls.ca_file"), wrong.output)
        XCTAssertTrue(wrong.summary("broker").contains("TLS handshake failed"), wrong.output)

        let right = try doctor(args + ["--set", "mqtt.tls.ca_file=\(pki.caCert)"])
        XCTAssertEqual(right.verdict("tls"), "ok", right.output)
        XCTAssertEqual(right.verdict("broker"), "ok", right.output)
    }

    func testAStateDirectoryThatCannotBeWrittenFails() throws {
        try requireRoot("a read-only state directory (a private mount namespace)")
        let dir = try TempDirectory(prefix: "sbdoctorstate")
        let state = dir.file("state")
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let args = ["--broker", "127.0.0.1:\(freePort())", "--state-dir", state]
        XCTAssertEqual(try doctor(args).verdict("state directory"), "ok")
        // Root ignores modes, so the directory is made read-only by a bind mount that only this
        // command's private mount namespace sees (gone with it).
        let readOnly = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                        "mount --bind \"$0\" \"$0\" && mount -o remount,bind,ro \"$0\" && exec \"$@\"", state]
        let run = try doctor(args, prefix: readOnly)
        XCTAssertEqual(run.status, 1, run.output)
        XCTAssertEqual(run.verdict("state directory"), "fail", run.output)
        XCTAssertTrue(run.summary("state directory").contains("is not writable: Read-only file system"), run.output)
        XCTAssertTrue(run.fix("state directory").hasPrefix("remount its file system read-write"), run.output)
    }

    func testAWorldWritablePluginFolderFailsNamingTheRule() throws {
        let lab = try PluginDaemon { dir, scratch in
            try PluginBuild.logSpeaker(to: dir + "/log-speaker.so")
            try writeJSON(["log": scratch + "/speakers.txt", "speakers": ["Kitchen"]], to: dir + "/log-speaker.json")
            chmod(dir, 0o777)
        }
        defer { lab.daemon.stopAndRemoveState() }
        let run = try doctor(sameConfiguration(as: lab.daemon))
        XCTAssertEqual(run.status, 1, run.output)
        XCTAssertEqual(run.verdict("plugins"), "fail", run.output)
        XCTAssertTrue(run.details("plugins").contains("its folder \(lab.plugins.path) is writable by group or others (mode 777)"), run.output)
        XCTAssertEqual(run.fix("plugins"), "chmod go-w \(lab.plugins.path)", run.output)
        XCTAssertEqual(run.verdict("broker"), "ok", run.output)
        XCTAssertEqual(run.verdict("session"), "ok", run.output)
    }

    func testATwinIsWarned() throws {
        let broker = try MosquittoBroker()
        try broker.start()
        let id = "doctor-twin-\(UInt32.random(in: 0...UInt32.max))"
        let daemon = try DaemonUnderTest(brokerPort: broker.port, settings: [
            "mqtt.client_id": id, "mqtt.twin.threshold": "3", "mqtt.twin.window": "5", "mqtt.reconnect.max_delay": "8",
        ])
        defer { daemon.stopAndRemoveState() }
        let watch = try TestClient()
        try watch.connect(port: broker.port)
        try watch.subscribe(daemon.topics.state)
        try daemon.start()
        try waitForOnline(watch, daemon)
        XCTAssertEqual(try doctor(sameConfiguration(as: daemon)).verdict("twin"), "ok")

        let twin = try TestClient(clientID: id, cleanSession: false)
        try twin.connect(port: broker.port)
        defer { twin.disconnect() }
        _ = try watch.waitFor(daemon.topics.state, timeout: 40) { json($0)["problem"] as? String == "twin" }
        let run = try doctor(sameConfiguration(as: daemon))
        XCTAssertEqual(run.verdict("twin"), "warn", run.output)
        XCTAssertTrue(run.details("twin").contains(id), run.output)
        XCTAssertTrue(run.fix("twin").contains("its own state_dir"), run.output)
    }

    func testHomeAssistantIsSeenOnlyAfterItsBirthMessage() throws {
        let prefix = "hadoctor\(UInt32.random(in: 0...UInt32.max))"
        let lab = try PluginDaemon(settings: ["homeassistant.discovery_prefix": prefix]) { dir, scratch in
            try PluginBuild.logSpeaker(to: dir + "/log-speaker.so")
            try writeJSON(["log": scratch + "/speakers.txt", "speakers": ["Kitchen"]], to: dir + "/log-speaker.json")
        }
        defer { lab.daemon.stopAndRemoveState() }
        let before = try doctor(sameConfiguration(as: lab.daemon))
        XCTAssertEqual(before.verdict("home assistant"), "warn", before.output)
        XCTAssertTrue(before.summary("home assistant").contains("no birth message from Home Assistant on \(prefix)/status"), before.output)

        try lab.client.publishAndWait(topic: "\(prefix)/status", payload: "online")
        var after: Run? = nil
        XCTAssertTrue(waitUntil(timeout: 15, interval: 0.5) {
            after = try? doctor(sameConfiguration(as: lab.daemon))
            return after?.verdict("home assistant") == "ok"
        }, after?.output ?? "no run")
        XCTAssertTrue(after?.summary("home assistant").contains("Home Assistant said online on \(prefix)/status") ?? false, after?.output ?? "")
    }
}
