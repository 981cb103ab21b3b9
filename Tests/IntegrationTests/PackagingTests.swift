import Foundation
import LabKit
import XCTest

/// The systemd unit and `make install`: the unit passes `systemd-analyze verify` and keeps the
/// sandbox it promises; the install puts every file in place for either prefix and keeps the
/// settings a user already has.
final class PackagingTests: XCTestCase {
    private var unitSource: String { PluginBuild.root + "/packaging/speakerbridge.service" }

    func testUnitPassesSystemdAnalyzeVerify() throws {
        try requireSystemdAnalyze()
        let dir = try TempDirectory(prefix: "sbunit")
        defer { dir.remove() }
        // verify insists that ExecStart exists; point it at the binary under test, as
        // `make install PREFIX=…` points it at the installed one.
        let unit = try String(contentsOfFile: unitSource, encoding: .utf8)
            .replacingOccurrences(of: "/usr/local/bin/speakerbridge", with: try DaemonProcess.binaryPath())
        try unit.write(toFile: dir.file("speakerbridge.service"), atomically: true, encoding: .utf8)
        let verify = try Shell.run(["systemd-analyze", "verify", dir.file("speakerbridge.service")])
        XCTAssertEqual(verify.status, 0, verify.out + verify.err)
        XCTAssertFalse((verify.out + verify.err).contains("speakerbridge.service"), "warnings:\n\(verify.out + verify.err)")

        for line in ["Type=notify", "NotifyAccess=main", "WatchdogSec=60s", "Restart=on-failure", "DynamicUser=yes",
                     "StateDirectory=speakerbridge", "ExecReload=/bin/kill -HUP $MAINPID",
                     "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK", "NoNewPrivileges=yes"] {
            XCTAssertTrue(unit.split(separator: "\n").contains { $0 == line }, "the unit lacks \(line)")
        }
        XCTAssertFalse(unit.split(separator: "\n").contains { $0.hasPrefix("PrivateNetwork=") }, "the daemon needs the LAN")

        // systemd's own reading of the sandbox, offline (no running systemd needed).
        let security = try Shell.run(["systemd-analyze", "security", "--offline=yes", dir.file("speakerbridge.service")])
        let exposure = security.out.split(separator: "\n").first { $0.contains("Overall exposure level") }
        let level = exposure.flatMap { $0.split(separator: ":").last?.split(separator: " ").first }.flatMap { Double($0) }
        let value = try XCTUnwrap(level, security.out + security.err)
        XCTAssertLessThan(value, 2.5, "exposure \(value):\n\(security.out)")
    }

    func testMakeInstallPutsEveryFileInPlaceAndKeepsExistingSettings() throws {
        let binary = try DaemonProcess.binaryPath()
        for prefix in ["/usr/local", "/usr"] {
            let stage = try TempDirectory(prefix: "sbinstall")
            defer { stage.remove() }
            let make = ["make", "-s", "-C", PluginBuild.root, "install", "DESTDIR=\(stage.path)", "PREFIX=\(prefix)",
                        "INSTALL_BIN=\(binary)"]
            let first = try Shell.run(make)
            XCTAssertEqual(first.status, 0, first.out + first.err)

            let root = stage.path
            let plugins = root + prefix + "/lib/speakerbridge/plugins"
            let expected: [(String, Int)] = [
                (prefix + "/bin/speakerbridge", 0o755),
                (prefix + "/lib/speakerbridge/plugins/tts-espeak.so", 0o644),
                (prefix + "/lib/speakerbridge/plugins/tts-espeak.json", 0o644),
                (prefix + "/lib/speakerbridge/plugins/sonos.so", 0o644),
                (prefix + "/lib/speakerbridge/plugins/sonos.json", 0o644),
                (prefix + "/lib/systemd/system/speakerbridge.service", 0o644),
                ("/etc/speakerbridge/speakerbridge.yaml", 0o644),
            ]
            for (path, mode) in expected {
                let attributes = try FileManager.default.attributesOfItem(atPath: root + path)
                XCTAssertEqual((attributes[.posixPermissions] as? Int), mode, "\(path)")
            }
            // The daemon refuses plugin folders writable by others.
            let folderMode = try FileManager.default.attributesOfItem(atPath: plugins)[.posixPermissions] as? Int
            XCTAssertEqual(folderMode, 0o755)
            XCTAssertEqual(try String(contentsOfFile: plugins + "/tts-espeak.json", encoding: .utf8),
                           #"{"cache_dir": "/var/cache/speakerbridge/tts"}"# + "\n")

            let unit = try String(contentsOfFile: root + prefix + "/lib/systemd/system/speakerbridge.service", encoding: .utf8)
            XCTAssertTrue(unit.contains("ExecStart=\(prefix)/bin/speakerbridge run --config"), unit)
            let yaml = root + "/etc/speakerbridge/speakerbridge.yaml"
            XCTAssertTrue(try String(contentsOfFile: yaml, encoding: .utf8).contains("path: \(prefix)/lib/speakerbridge/plugins"))

            // The installed binary takes the installed example configuration as it is.
            let check = try DaemonProcess.run(arguments: ["config", "check", "--config", yaml])
            XCTAssertEqual(check.status, 0, check.output)
            // An installed plugin loads (its installed settings name a cache folder outside the stage).
            let plugin = try DaemonProcess.run(arguments: ["plugin", "check", plugins + "/tts-espeak.so", "--config-json", "{}"])
            XCTAssertEqual(plugin.status, 0, plugin.output)

            if systemdAnalyzeMissing == nil {
                let verifiable = try TempDirectory(prefix: "sbunit")
                defer { verifiable.remove() }
                try unit.replacingOccurrences(of: "\(prefix)/bin/speakerbridge", with: root + prefix + "/bin/speakerbridge")
                    .write(toFile: verifiable.file("speakerbridge.service"), atomically: true, encoding: .utf8)
                let verify = try Shell.run(["systemd-analyze", "verify", verifiable.file("speakerbridge.service")])
                XCTAssertEqual(verify.status, 0, verify.out + verify.err)
            }

            // A second install keeps what the user changed.
            try "base_topic: mine\n".write(toFile: yaml, atomically: true, encoding: .utf8)
            try #"{"voice": "de"}"#.write(toFile: plugins + "/tts-espeak.json", atomically: true, encoding: .utf8)
            let second = try Shell.run(make)
            XCTAssertEqual(second.status, 0, second.out + second.err)
            XCTAssertTrue(second.out.contains("kept \(yaml)"), second.out)
            XCTAssertEqual(try String(contentsOfFile: yaml, encoding: .utf8), "base_topic: mine\n")
            XCTAssertEqual(try String(contentsOfFile: plugins + "/tts-espeak.json", encoding: .utf8), #"{"voice": "de"}"#)
        }
    }

    private var systemdAnalyzeMissing: String? {
        (try? Shell.run(["systemd-analyze", "--version"]))?.status == 0 ? nil : "systemd-analyze is not installed"
    }

    private func requireSystemdAnalyze() throws {
        if let reason = systemdAnalyzeMissing {
            print("SKIPPED \(name): \(reason)")
            throw XCTSkip(reason)
        }
    }
}
