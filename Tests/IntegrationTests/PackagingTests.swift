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

    /// What the unit holds the daemon to, applied without systemd (the test machines have none as
    /// PID 1): a user of its own with no groups, no capabilities, no new privileges (setpriv),
    /// MemoryDenyWriteExecute's rule, no memory both writable and executable (prctl PR_SET_MDWE, the
    /// kernel's own form of it), and RestrictAddressFamilies (a seccomp filter on socket(2)); the
    /// wrapper first proves that a W+X mapping and an AF_PACKET socket are refused. The Swift
    /// runtime, SwiftNIO, espeak-ng and libffi's typed commands must all work inside that.
    func testTheDaemonWorksAsItsOwnUserWithoutCapabilitiesWritableCodeOrOtherSockets() throws {
        guard Shell.isRoot else {
            print("SKIPPED \(name): needs root to start the daemon as another user")
            throw XCTSkip("needs root")
        }
        let uid = 61_184 + Int.random(in: 0..<4000)  // systemd's DynamicUser range
        let dir = try TempDirectory(prefix: "sbsandbox")
        defer { dir.remove() }
        let state = dir.file("state")
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: false,
                                                attributes: [.posixPermissions: 0o700, .ownerAccountID: uid, .groupOwnerAccountID: uid])
        let plugins = dir.file("plugins")
        try FileManager.default.createDirectory(atPath: plugins, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        try PluginBuild.logSpeaker(to: plugins + "/log-speaker.so")
        try #"{"log": "\#(state)/played.log", "speakers": ["Kitchen"]}"#.write(toFile: plugins + "/log-speaker.json", atomically: true, encoding: .utf8)
        try PluginBuild.ttsPlugin(to: dir.file("tts-espeak.so"))
        try PluginBuild.install(dir.file("tts-espeak.so"), as: plugins + "/tts-espeak.so")
        try #"{"cache_dir": "\#(state)/tts"}"#.write(toFile: plugins + "/tts-espeak.json", atomically: true, encoding: .utf8)

        let broker = try MosquittoBroker()
        try broker.start()
        let base = "sbsandbox\(UInt32.random(in: 0...UInt32.max))"
        let client = try watcher(port: broker.port, ["\(base)/#"])
        // RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK as systemd does it: a seccomp
        // filter that fails socket(2) for any other family with EAFNOSUPPORT.
        let limits = """
            import ctypes, os, socket, struct, sys
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(65, 1, 0, 0, 0) != 0: sys.exit("PR_SET_MDWE: errno %d" % ctypes.get_errno())
            libc.mmap.restype = ctypes.c_void_p
            if libc.mmap(None, 4096, 7, 0x22, -1, 0) != ctypes.c_void_p(-1).value: sys.exit("a W+X mapping was allowed")
            def op(code, k, jt=0, jf=0): return struct.pack("HBBI", code, jt, jf, k)
            program = b"".join([
                op(0x20, 0),                # A = syscall number
                op(0x15, 41, 0, 5),         # socket(2)? else allow
                op(0x20, 16),               # A = its family (args[0])
                op(0x15, 1, 3), op(0x15, 2, 2), op(0x15, 10, 1), op(0x15, 16, 0, 1),
                op(0x06, 0x7fff0000),       # allow
                op(0x06, 0x00050000 | 97),  # EAFNOSUPPORT
            ])
            buffer = ctypes.create_string_buffer(program)
            class Program(ctypes.Structure): _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
            fprog = Program(len(program) // 8, ctypes.addressof(buffer))
            if libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) != 0: sys.exit("PR_SET_SECCOMP: errno %d" % ctypes.get_errno())
            try:
                socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
                sys.exit("an AF_PACKET socket was allowed")
            except OSError as e:
                if e.errno != 97: raise
            socket.socket(socket.AF_NETLINK, socket.SOCK_RAW).close()
            os.execv(sys.argv[1], sys.argv[1:])
            """
        let args = ["setpriv", "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "--no-new-privs",
                    "--bounding-set=-all", "--inh-caps=-all", "--",
                    "/usr/bin/python3", "-c", limits, try DaemonProcess.binaryPath(), "run", "--broker", "127.0.0.1:\(broker.port)",
                    "--state-dir", state, "--set", "base_topic=\(base)", "--set", "plugins.path=\(plugins)",
                    // Loopback only; the media server's address comes from the interface table
                    // (getifaddrs, over netlink), so a lost AF_NETLINK shows as a warning below.
                    "--set", "network.interface=lo", "--set", "admin.port=0"]
        let log = dir.file("daemon.log")
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        daemon.arguments = args
        FileManager.default.createFile(atPath: log, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        daemon.standardOutput = output
        daemon.standardError = output
        try daemon.run()
        defer {
            if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) }
            daemon.waitUntilExit()
        }
        let daemonLog = { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

        XCTAssertNoThrow(try client.waitFor("\(base)/bridge/state", timeout: 30) { json($0)["state"] as? String == "online" },
                         daemonLog())
        XCTAssertFalse(daemonLog().contains("media server: listening on 127.0.0.1 only"), "the interface lookup failed:\n\(daemonLog())")
        let status = try String(contentsOfFile: "/proc/\(daemon.processIdentifier)/status", encoding: .utf8)
        XCTAssertTrue(status.contains("\nUid:\t\(uid)\t"), status)
        XCTAssertTrue(status.contains("\nCapEff:\t0000000000000000"), status)
        XCTAssertTrue(status.contains("\nNoNewPrivs:\t1"), status)

        // Speech (espeak-ng in the TTS plugin), the media server and a speaker.
        try client.publish(topic: "\(base)/speak", payload: #"{"id":"s1","text":"hello from the sandbox","speakers":["Kitchen"]}"#)
        let final = try client.waitFor("\(base)/bridge/event/announcement", timeout: 30) {
            json($0)["id"] as? String == "s1" && ["done", "failed"].contains(json($0)["state"] as? String ?? "")
        }
        XCTAssertEqual(json(final)["state"] as? String, "done", "\(json(final))\n\(daemonLog())")
        // A typed command: a call through libffi.
        try client.publish(topic: "\(base)/Kitchen/set", payload: #"{"command":"volume","level":12,"transaction":"v1"}"#)
        let answer = try client.waitFor("\(base)/Kitchen/set/response", timeout: 15) { json($0)["transaction"] as? String == "v1" }
        XCTAssertEqual(json(answer)["status"] as? String, "ok", "\(json(answer))")
        let played = (try? String(contentsOfFile: state + "/played.log", encoding: .utf8)) ?? ""
        XCTAssertTrue(played.contains("command volume log-kitchen 12 false"), played)

        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()
        XCTAssertEqual(daemon.terminationStatus, 0, daemonLog())
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
