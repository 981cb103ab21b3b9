import Foundation
import XCTest
@testable import SpeakerbridgeHost

final class ConfigLoaderTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Writes a temp file and returns its path.
    private func write(_ contents: String, name: String = "config.yaml") throws -> String {
        let url = directory.appendingPathComponent(name)
        try contents.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    private func load(_ yaml: String? = nil, env: [String: String] = [:], flags: [String: String] = [:]) throws -> Configuration {
        try ConfigLoader.load(file: try yaml.map { try write($0) }, environment: env, flags: flags)
    }

    private func problems(_ yaml: String? = nil, env: [String: String] = [:], flags: [String: String] = [:]) throws -> [ConfigProblem] {
        ConfigLoader.check(file: try yaml.map { try write($0) }, environment: env, flags: flags)
    }

    func testNoFileNoEnvironmentGivesDefaults() throws {
        XCTAssertEqual(try load(), Configuration())
        XCTAssertEqual(try load(""), Configuration())
        XCTAssertEqual(try load("# only a comment\n"), Configuration())
        XCTAssertTrue(try load().usesEmbeddedBroker)
    }

    func testFileValues() throws {
        let config = try load("""
            base_topic: home/speakers
            log_level: DEBUG
            mqtt:
              host: broker.lan
              port: 8883
              keepalive: 45
              session_expiry: 0
              client_id: sb-1
              username: bridge
              twin: {threshold: 5, window: 2.5}
            embedded_broker:
              executable: /usr/sbin/mosquitto
            journal:
              durability: fsync
              dedup_window: 1h
            outbound:
              max_messages: 1_000_000
            """)
        XCTAssertEqual(config.baseTopic, "home/speakers")
        XCTAssertEqual(config.logLevel, .debug)
        XCTAssertEqual(config.mqtt.host, "broker.lan")
        XCTAssertEqual(config.brokerPort, 8883)
        XCTAssertEqual(config.mqtt.keepalive, 45)
        XCTAssertEqual(config.mqtt.sessionExpiry, 0)
        XCTAssertEqual(config.mqtt.clientID, "sb-1")
        XCTAssertEqual(config.mqtt.username, "bridge")
        XCTAssertEqual(config.mqtt.twin.threshold, 5)
        XCTAssertEqual(config.mqtt.twin.window, 2.5)
        XCTAssertEqual(config.embeddedBroker.executable, "/usr/sbin/mosquitto")
        XCTAssertEqual(config.journal.durability, .fsync)
        XCTAssertEqual(config.journal.dedupWindow, 3600)
        XCTAssertEqual(config.outbound.maxMessages, 1_000_000)
        XCTAssertFalse(config.mqtt.tls.enabled)
    }

    func testEnvironmentBeatsFileAndFlagsBeatEnvironment() throws {
        let yaml = "mqtt:\n  host: from-file\n  port: 1000\n  keepalive: 10\n"
        let env = ["SPEAKERBRIDGE_MQTT_HOST": "from-env", "SPEAKERBRIDGE_MQTT_PORT": "2000",
                   "SPEAKERBRIDGE_JOURNAL_DURABILITY": "fsync", "SPEAKERBRIDGE_CONFIG": "/ignored.yaml",
                   "HOME": "/irrelevant"]
        let config = try load(yaml, env: env, flags: ["mqtt.host": "from-flag", "log_level": "error"])
        XCTAssertEqual(config.mqtt.host, "from-flag")
        XCTAssertEqual(config.mqtt.port, 2000)
        XCTAssertEqual(config.mqtt.keepalive, 10)
        XCTAssertEqual(config.journal.durability, .fsync)
        XCTAssertEqual(config.logLevel, .error)

        // An empty override puts the key back to its default: here the embedded broker.
        XCTAssertNil(try load(yaml, env: ["SPEAKERBRIDGE_MQTT_HOST": ""]).mqtt.host)
    }

    func testAdminListenerTurnsOffByEveryLayer() throws {
        XCTAssertEqual(try load().admin.bind, "127.0.0.1")
        XCTAssertEqual(try load("admin:\n  bind: \"\"\n").admin.bind, "")
        // An empty variable means "not set", so `off` is the word a container's environment can use.
        XCTAssertEqual(try load(env: ["SPEAKERBRIDGE_ADMIN_BIND": ""]).admin.bind, "127.0.0.1")
        XCTAssertEqual(try load(env: ["SPEAKERBRIDGE_ADMIN_BIND": "off"]).admin.bind, "")
        XCTAssertEqual(try load(flags: ["admin.bind": "OFF"]).admin.bind, "")
        // Beyond loopback only with a token (AdminTokenConfigTests).
        XCTAssertEqual(try problems(flags: ["admin.bind": "0.0.0.0"]).map(\.key), ["admin.bind"])
    }

    func testOverrideRepairsBadFileValue() throws {
        let yaml = "mqtt:\n  keepalive: abc\n"
        XCTAssertEqual(try problems(yaml).map(\.key), ["mqtt.keepalive"])
        XCTAssertEqual(try load(yaml, env: ["SPEAKERBRIDGE_MQTT_KEEPALIVE": "60"]).mqtt.keepalive, 60)
        XCTAssertEqual(try load(yaml, flags: ["mqtt.keepalive": "90"]).mqtt.keepalive, 90)
    }

    func testEveryFileProblemIsReportedWithItsLine() throws {
        let path = try write("""
            base_topic: a/#
            mqtt:
              port: 70000
              keepalive: abc
              keeplive: 30
            journal:
              durability: sometimes
            """)
        let found = ConfigLoader.check(file: path, environment: [:], flags: [:])
        XCTAssertEqual(found.map(\.key), ["base_topic", "mqtt.port", "mqtt.keepalive", "mqtt.keeplive", "journal.durability"])
        XCTAssertEqual(found.map(\.line), [1, 3, 4, 5, 7])
        XCTAssertEqual(found[2].message, "must be a whole number from 5 to 65535, got \"abc\"")
        XCTAssertEqual(found[2].description, "\(path):4: mqtt.keepalive: must be a whole number from 5 to 65535, got \"abc\"")
        XCTAssertEqual(found[3].message, "unknown setting; did you mean \"keepalive\"?")

        XCTAssertThrowsError(try ConfigLoader.load(file: path, environment: [:], flags: [:])) { error in
            let error = error as? ConfigError
            XCTAssertEqual(error?.problems.count, 5)
            XCTAssertEqual(error?.description.split(separator: "\n").count, 5)
        }
    }

    func testStructuralFileProblems() throws {
        XCTAssertEqual(try problems("- a\n- b\n").map(\.message), ["the top level must be a mapping of settings (key: value)"])

        let syntax = try problems("mqtt:\n  host: a\n port: 1\n")
        XCTAssertEqual(syntax.count, 1)
        XCTAssertEqual(syntax.first?.line, 3)
        XCTAssertTrue(syntax.first?.message.hasPrefix("YAML syntax error") ?? false)

        let shapes = try problems("mqtt: broker.lan\njournal:\n  durability: [process]\ntls:\n  enabled: true\n")
        XCTAssertEqual(shapes.map(\.key), ["mqtt", "journal.durability", "tls"])
        XCTAssertEqual(shapes.map(\.line), [1, 3, 4])
        XCTAssertEqual(shapes[1].message, "must be a single value, got a list")
        XCTAssertEqual(shapes[2].message, "unknown setting; did you mean mqtt.tls?")

        let missing = ConfigLoader.check(file: "/nonexistent/sb.yaml", environment: [:], flags: [:])
        XCTAssertEqual(missing, [ConfigProblem(key: "config", message: "file not found: /nonexistent/sb.yaml", origin: .general)])
    }

    func testDidYouMean() throws {
        XCTAssertEqual(try problems("mqtt:\n  hots: x\n").first?.message, "unknown setting; did you mean \"host\"?")
        XCTAssertEqual(try problems("mqtt:\n  clientId: x\n").first?.message, "unknown setting; did you mean \"client_id\"?")
        XCTAssertEqual(try problems("colour: blue\n").first?.message, "unknown setting")
        XCTAssertEqual(try problems(flags: ["mqtt.prot": "1"]).first?.message, "unknown setting; did you mean mqtt.port?")
        XCTAssertEqual(try problems("log_level: debgu\n").first?.message,
                       "must be one of trace, debug, info, notice, warning, error, critical, got \"debgu\"; did you mean \"debug\"?")
    }

    func testUnknownEnvironmentVariable() throws {
        let found = try problems(env: ["SPEAKERBRIDGE_MQTT_HOTS": "x", "SPEAKERBRIDGE_BANANA": "1", "OTHER_THING": "1"])
        XCTAssertEqual(found.map(\.key), ["SPEAKERBRIDGE_BANANA", "SPEAKERBRIDGE_MQTT_HOTS"])
        XCTAssertEqual(found[0].message, "unknown setting")
        XCTAssertEqual(found[1].description, "SPEAKERBRIDGE_MQTT_HOTS (environment): unknown setting; did you mean SPEAKERBRIDGE_MQTT_HOST?")
        XCTAssertNil(found[1].line)
    }

    func testEnvironmentValuesUseTheSameRules() throws {
        let config = try load(env: ["SPEAKERBRIDGE_MQTT_TLS_INSECURE": "yes", "SPEAKERBRIDGE_MQTT_TLS_ENABLED": "1",
                                    "SPEAKERBRIDGE_MQTT_RECONNECT_MAX_DELAY": "2m"])
        XCTAssertTrue(config.mqtt.tls.insecure)
        XCTAssertTrue(config.mqtt.tls.enabled)
        XCTAssertEqual(config.mqtt.reconnect.maxDelay, 120)

        let found = try problems(env: ["SPEAKERBRIDGE_MQTT_PORT": "0", "SPEAKERBRIDGE_MQTT_TLS_INSECURE": "maybe"])
        XCTAssertEqual(found.map(\.description), [
            "SPEAKERBRIDGE_MQTT_PORT (environment): must be a whole number from 1 to 65535, got \"0\"",
            "SPEAKERBRIDGE_MQTT_TLS_INSECURE (environment): must be true or false, got \"maybe\"",
        ])
    }

    func testPasswordInFileOrFlagIsRejectedWithoutEchoingIt() throws {
        let found = try problems("mqtt:\n  host: b\n  password: hunter2\n", flags: ["mqtt.password": "swordfish"])
        XCTAssertEqual(found.map(\.key), ["mqtt.password", "mqtt.password"])
        XCTAssertEqual(found[0].line, 3)
        XCTAssertEqual(found[0].message, ConfigSetting.secretsMessage)
        for problem in found {
            XCTAssertFalse(problem.description.contains("hunter2"))
            XCTAssertFalse(problem.description.contains("swordfish"))
        }
    }

    func testPasswordFileIsReadAndRedacted() throws {
        let secretPath = try write("s3cret\r\n", name: "password")
        let config = try load("mqtt:\n  host: b\n  password_file: \(secretPath)\n")
        XCTAssertEqual(config.mqtt.password, Secret("s3cret"))

        let lines = ConfigLoader.describe(config)
        XCTAssertTrue(lines.contains("mqtt.password = <redacted>"))
        XCTAssertTrue(lines.contains("mqtt.host = b"))
        XCTAssertFalse(lines.joined().contains("s3cret"))
        XCTAssertEqual(lines.count, ConfigSetting.all.count - 1)  // password_file feeds mqtt.password

        // The environment variable beats a password_file from the file.
        let fromEnv = try load("mqtt:\n  password_file: \(secretPath)\n", env: ["SPEAKERBRIDGE_MQTT_PASSWORD": "envpw"])
        XCTAssertEqual(fromEnv.mqtt.password?.value, "envpw")

        let missing = try problems("mqtt:\n  password_file: /nope/pw\n")
        XCTAssertEqual(missing.map(\.message), ["file not found: /nope/pw"])
        XCTAssertEqual(missing.map(\.line), [2])

        let both = try problems(env: ["SPEAKERBRIDGE_MQTT_PASSWORD": "envpw", "SPEAKERBRIDGE_MQTT_PASSWORD_FILE": secretPath])
        XCTAssertEqual(both.map(\.key), ["SPEAKERBRIDGE_MQTT_PASSWORD_FILE"])
        XCTAssertFalse(both[0].description.contains("envpw"))
    }

    func testProtocolSpellings() throws {
        for spelling in ["5", "\"5\"", "v5", "mqttv5", "MQTTv5"] {
            XCTAssertEqual(try load("mqtt:\n  protocol: \(spelling)\n").mqtt.protocolChoice, .v5, spelling)
        }
        for spelling in ["3.1.1", "v311", "mqttv311"] {
            XCTAssertEqual(try load("mqtt:\n  protocol: \(spelling)\n").mqtt.protocolChoice, .v311, spelling)
        }
        XCTAssertEqual(try load(env: ["SPEAKERBRIDGE_MQTT_PROTOCOL": "v311"]).mqtt.protocolChoice, .v311)
        XCTAssertEqual(try problems("mqtt:\n  protocol: 4\n").map(\.key), ["mqtt.protocol"])
    }

    func testDurations() throws {
        let config = try load("""
            mqtt:
              reconnect:
                min_delay: 500ms
                max_delay: 1m
                stable_after: "2s"
                connect_timeout: 2.5
            """)
        XCTAssertEqual(config.mqtt.reconnect.minDelay, 0.5, accuracy: 1e-9)
        XCTAssertEqual(config.mqtt.reconnect.maxDelay, 60)
        XCTAssertEqual(config.mqtt.reconnect.stableAfter, 2)
        XCTAssertEqual(config.mqtt.reconnect.connectTimeout, 2.5)

        XCTAssertEqual(try problems("mqtt:\n  twin:\n    window: -1\n").map(\.key), ["mqtt.twin.window"])
        XCTAssertEqual(try problems("journal:\n  dedup_window: 5 parsecs\n").map(\.line), [2])

        let inverted = try problems("mqtt:\n  reconnect:\n    min_delay: 2m\n    max_delay: 30s\n")
        XCTAssertEqual(inverted.map(\.key), ["mqtt.reconnect.min_delay"])
        XCTAssertEqual(inverted.map(\.line), [3])
    }

    func testTLSIsImpliedByFilesAndChecksThem() throws {
        let ca = try write("ca", name: "ca.pem")
        let cert = try write("cert", name: "cert.pem")
        let key = try write("key", name: "key.pem")

        XCTAssertTrue(try load("mqtt:\n  tls:\n    ca_file: \(ca)\n").mqtt.tls.enabled)
        XCTAssertTrue(try load("mqtt:\n  tls:\n    cert_file: \(cert)\n    key_file: \(key)\n").mqtt.tls.enabled)
        XCTAssertFalse(try load("mqtt:\n  tls:\n    ca_file: \(ca)\n", env: ["SPEAKERBRIDGE_MQTT_TLS_ENABLED": "false"]).mqtt.tls.enabled)

        let certOnly = try problems("mqtt:\n  tls:\n    cert_file: \(cert)\n")
        XCTAssertEqual(certOnly.map(\.key), ["mqtt.tls.cert_file"])
        XCTAssertEqual(certOnly.map(\.line), [3])
        XCTAssertEqual(certOnly.first?.message, "is set but mqtt.tls.key_file is not; set both or neither")

        let missingCA = try problems("mqtt:\n  tls:\n    ca_file: /nope/ca.pem\n")
        XCTAssertEqual(missingCA.map(\.message), ["file not found: /nope/ca.pem"])
        XCTAssertEqual(missingCA.map(\.line), [3])
        XCTAssertEqual(try problems("mqtt:\n  tls:\n    ca_file: \(directory.path)\n").map(\.key), ["mqtt.tls.ca_file"])
    }

    func testBaseTopicRules() throws {
        for bad in ["\"\"", "a/+/b", "/a", "a/", "\"a\\0b\""] {
            XCTAssertEqual(try problems("base_topic: \(bad)\n").map(\.key), ["base_topic"], bad)
        }
        XCTAssertEqual(try load("base_topic: a/b\n").baseTopic, "a/b")
    }

    func testDescribeListsEveryKeyOnce() throws {
        let lines = ConfigLoader.describe(Configuration())
        XCTAssertEqual(Set(lines.map { $0.components(separatedBy: " = ")[0] }).count, lines.count)
        XCTAssertTrue(lines.contains("mqtt.host = (not set)"))
        XCTAssertTrue(lines.contains("mqtt.password = (not set)"))
        XCTAssertTrue(lines.contains("mqtt.reconnect.min_delay = 1"))
        XCTAssertTrue(lines.contains("journal.durability = process"))
        // describe's output is valid input: every key loads back to the same configuration.
        var flags: [String: String] = [:]
        for line in lines where !line.hasSuffix("(not set)") {
            let parts = line.components(separatedBy: " = ")
            flags[parts[0]] = parts[1]
        }
        XCTAssertEqual(try load(flags: flags), Configuration())
    }

    // MARK: - Brokers, protocol choice, heartbeat

    func testBrokersAsAYAMLListAFlowListOrText() throws {
        let block = try load("mqtt:\n  brokers:\n    - a.lan:1884\n    - mqtts://b.lan\n    - \"[::1]:1885\"\n")
        XCTAssertEqual(block.mqtt.brokers.map(\.description), ["a.lan:1884", "mqtts://b.lan:8883", "[::1]:1885"])
        XCTAssertEqual(try load("mqtt:\n  brokers: [a.lan:1884, b.lan]\n").mqtt.brokers.map(\.description), ["a.lan:1884", "b.lan:1883"])
        XCTAssertEqual(try load("mqtt:\n  brokers: a.lan:1884, b.lan\n").mqtt.brokers.count, 2)
        let env = try load(env: ["SPEAKERBRIDGE_MQTT_BROKERS": "a.lan:1884,b.lan:1885"])
        XCTAssertEqual(env.mqtt.brokers, [BrokerAddress(host: "a.lan", port: 1884), BrokerAddress(host: "b.lan", port: 1885)])
        let flag = try load(flags: ["mqtt.brokers": "a.lan:1884"])
        XCTAssertEqual(flag.brokerList, [BrokerAddress(host: "a.lan", port: 1884)])
    }

    func testTheBrokerListDecidesTheFirstBrokerAndTheEmbeddedOne() throws {
        let list = try load("mqtt:\n  brokers: [a.lan:1884, b.lan]\n")
        XCTAssertFalse(list.usesEmbeddedBroker, "a list of brokers: the daemon starts none of its own")
        XCTAssertEqual(list.brokerHost, "a.lan")
        XCTAssertEqual(list.brokerPort, 1884)
        let single = try load("mqtt:\n  host: c.lan\n  port: 1999\n")
        XCTAssertEqual(single.brokerList, [BrokerAddress(host: "c.lan", port: 1999)])
        let embedded = try load("embedded_broker:\n  port: 18830\n")
        XCTAssertTrue(embedded.usesEmbeddedBroker)
        XCTAssertEqual(embedded.brokerList, [BrokerAddress(host: "127.0.0.1", port: 18830)])
    }

    func testBrokersAndHostTogetherIsAProblemInAnyLayers() throws {
        let file = try problems("mqtt:\n  host: x.lan\n  brokers: [a.lan, b.lan]\n")
        XCTAssertEqual(file.map(\.key), ["mqtt.brokers"])
        XCTAssertEqual(file.first?.line, 3)
        XCTAssertTrue(file[0].message.contains("mqtt.host"), file[0].message)
        XCTAssertTrue(file[0].message.contains("set one"), file[0].message)
        let mixed = try problems("mqtt:\n  brokers: [a.lan, b.lan]\n", env: ["SPEAKERBRIDGE_MQTT_HOST": "x.lan"])
        XCTAssertEqual(mixed.map(\.key), ["mqtt.brokers"])
        XCTAssertTrue(mixed[0].message.contains("mqtt.host (from the environment)"), mixed[0].message)
        XCTAssertEqual(try problems(env: ["SPEAKERBRIDGE_MQTT_BROKERS": "a.lan"], flags: ["mqtt.host": "x.lan"]).count, 1)
        // An empty value in a higher layer puts the other key back to its default: --broker's way of overriding.
        XCTAssertEqual(try load("mqtt:\n  brokers: [a.lan, b.lan]\n", flags: ["mqtt.host": "x.lan", "mqtt.brokers": ""]).brokerList,
                       [BrokerAddress(host: "x.lan", port: 1883)])
        XCTAssertEqual(try load("mqtt:\n  host: x.lan\n  port: 1999\n", flags: ["mqtt.brokers": "a.lan,b.lan", "mqtt.host": "", "mqtt.port": ""])
                        .brokerList.map(\.description), ["a.lan:1883", "b.lan:1883"])
    }

    func testAPortBesideAListIsAProblemAndAnEmptyListToo() throws {
        let port = try problems("mqtt:\n  port: 8883\n  brokers: [a.lan, b.lan]\n")
        XCTAssertEqual(port.map(\.key), ["mqtt.port"])
        XCTAssertTrue(port[0].message.contains("host:port"), port[0].message)
        XCTAssertEqual(try problems(env: ["SPEAKERBRIDGE_MQTT_BROKERS": " , "]).map(\.message),
                       ["lists no broker; give host:port entries, or leave it unset"])
    }

    func testABadEntryIsReportedOnItsLine() throws {
        let bad = try problems("log_level: info\nmqtt:\n  brokers:\n    - a.lan\n    - b.lan:99999\n")
        XCTAssertEqual(bad.map(\.key), ["mqtt.brokers"])
        XCTAssertEqual(bad.first?.line, 4)
        XCTAssertEqual(bad.first?.message, "\"b.lan:99999\": the port must be a number from 1 to 65535")
        XCTAssertEqual(try problems("mqtt:\n  brokers: [a.lan, a.lan:1883]\n").map(\.message), ["a.lan:1883 is listed twice"])
        XCTAssertEqual(try problems("mqtt:\n  brokers:\n    - host: a.lan\n").map(\.message), ["must be a list of single values"])
        // Only the broker list's problem: the host check does not pile on a refused list.
        XCTAssertEqual(try problems("mqtt:\n  host: x\n  brokers: [\"a:0\"]\n").map(\.key), ["mqtt.brokers"])
    }

    func testAnMQTTSEntryNeedsReadableTLSFilesEvenWithTLSOff() throws {
        let yaml = "mqtt:\n  brokers: [mqtts://a.lan, b.lan]\n  tls:\n    enabled: false\n    ca_file: /nope/ca.pem\n"
        XCTAssertEqual(try problems(yaml).map(\.key), ["mqtt.tls.ca_file"])
        XCTAssertEqual(try problems("mqtt:\n  brokers: [mqtt://a.lan]\n  tls:\n    enabled: false\n    ca_file: /nope/ca.pem\n"), [])
    }

    func testProtocolIsAutoByDefault() throws {
        XCTAssertEqual(Configuration().mqtt.protocolChoice, .auto)
        XCTAssertEqual(Configuration.ProtocolChoice.auto.preferred, .v5)
        XCTAssertEqual(Configuration.ProtocolChoice.v311.preferred, .v311)
        for spelling in ["auto", "AUTO", "Auto"] {
            XCTAssertEqual(try load("mqtt:\n  protocol: \(spelling)\n").mqtt.protocolChoice, .auto, spelling)
        }
        XCTAssertEqual(try load("mqtt:\n  protocol: 3.1.1\n", env: ["SPEAKERBRIDGE_MQTT_PROTOCOL": "auto"]).mqtt.protocolChoice, .auto)
        let four = try problems("mqtt:\n  protocol: 4\n")
        XCTAssertTrue(four.first?.message.hasPrefix("must be auto, 5 or 3.1.1") ?? false, "\(four)")
    }

    func testHeartbeatFromOffToADay() throws {
        XCTAssertEqual(Configuration().mqtt.heartbeat, 60)
        XCTAssertEqual(try load("mqtt:\n  heartbeat: 0\n").mqtt.heartbeat, 0)
        XCTAssertEqual(try load(env: ["SPEAKERBRIDGE_MQTT_HEARTBEAT": "86400"]).mqtt.heartbeat, 86_400)
        for bad in ["-1", "86401", "often"] {
            XCTAssertEqual(try problems("mqtt:\n  heartbeat: \(bad)\n").map(\.key), ["mqtt.heartbeat"], bad)
        }
    }

    func testDescribeShowsTheListProtocolAndHeartbeat() throws {
        let config = try load("mqtt:\n  brokers: [a.lan:1884, mqtts://b.lan]\n  protocol: auto\n  heartbeat: 15\n")
        let lines = ConfigLoader.describe(config)
        XCTAssertTrue(lines.contains("mqtt.brokers = a.lan:1884,mqtts://b.lan:8883"), "\(lines)")
        XCTAssertTrue(lines.contains("mqtt.protocol = auto"), "\(lines)")
        XCTAssertTrue(lines.contains("mqtt.heartbeat = 15"), "\(lines)")
        XCTAssertTrue(ConfigLoader.describe(Configuration()).contains("mqtt.brokers = (not set)"))
        XCTAssertEqual(try load(flags: ["mqtt.brokers": "a.lan:1884,mqtts://b.lan:8883"]).mqtt.brokers, config.mqtt.brokers,
                       "the printed list loads back as the same list")
    }
}
