import Foundation
import LabKit
import SpeakerbridgeHost
import XCTest

/// The plugin ABI's promises to plugin authors: the header compiles as strict C11 and C++, and
/// plugins built against an older minor of the ABI keep loading and working.
final class ABICompatibilityTests: XCTestCase {
    /// The umbrella header and every part of it on its own, with warnings as errors: a plugin author
    /// compiling with -Werror must never be broken by the header.
    func testHeaderCompilesAsStrictC11AndCxx() throws {
        let include = PluginBuild.header
        let parts = try FileManager.default.subpathsOfDirectory(atPath: include)
            .filter { $0.hasSuffix(".h") }.sorted()
        XCTAssertTrue(parts.contains("speakerbridge_plugin.h") && parts.contains("speakerbridge/host/settings.h"), "\(parts)")
        let scratch = try TempDirectory()
        for part in parts {
            let source = scratch.path + "/check.c"
            // A second include proves the guards; the declaration keeps the unit non-empty (-pedantic).
            try "#include \"\(part)\"\n#include \"\(part)\"\nint speakerbridge_header_check;\n"
                .write(toFile: source, atomically: true, encoding: .utf8)
            for (compiler, standard, language) in [("cc", "-std=c11", "c"), ("c++", "-std=c++17", "c++")] {
                let result = try Shell.run([compiler, standard, "-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only",
                                            "-I", include, "-x", language, source])
                XCTAssertEqual(result.status, 0, "\(compiler) \(standard) \(part): \(result.err)")
            }
        }
    }

    /// The frozen 1.0 header and a plugin built against it (`Tests/Fixtures/abi-1.0`).
    static let abi10 = PluginBuild.root + "/Tests/Fixtures/abi-1.0"
    let oldID = "org.speakerbridge.test.abi10-speaker"

    private func buildABI10Speaker(to out: String, include: String = ABICompatibilityTests.abi10, _ defines: [String] = []) throws {
        try Shell.runChecked(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-shared", "-fPIC", "-fvisibility=hidden",
                              "-I", include] + defines.map { "-D" + $0 } + [Self.abi10 + "/abi10_speaker.c", "-o", out])
    }

    /// A speaker driver with a typed command, built against ABI 1.0, under this host: it loads,
    /// its speaker is listed, a clip plays on it, and its command answers (over the bridge request
    /// and the speaker's `set` topic).
    func testAPluginBuiltForABI10LoadsAndWorks() throws {
        let lab = try PluginDaemon { dir, _ in
            try self.buildABI10Speaker(to: dir + "/abi10-speaker.so")
        }
        let plugin = try XCTUnwrap((lab.info()["loaded"] as? [[String: Any]])?.first { $0["id"] as? String == oldID }, "loaded")
        XCTAssertEqual(plugin["abi"] as? String, "1.0")
        XCTAssertNotEqual(PluginABI.minor, 0, "this host is newer than the plugin")
        let speakers = plugin["speakers"] as? [[String: Any]] ?? []
        XCTAssertEqual(speakers.compactMap { $0["name"] as? String }, ["Old Radio"])

        let tuned = try lab.request("plugin/\(oldID)/tune", ["speaker": "old-radio", "station": 42])
        XCTAssertEqual(tuned["status"] as? String, "ok", "\(tuned)")
        XCTAssertEqual((tuned["data"] as? [String: Any])?["abi"] as? String, "1.0")
        let outOfRange = try lab.request("plugin/\(oldID)/tune", ["speaker": "old-radio", "station": 100])
        XCTAssertEqual(outOfRange["status"] as? String, "error", "the 1.0 signature is still checked")

        try lab.client.subscribe("\(lab.base)/old-radio/state")
        let played = try lab.request("play", ["speaker": "Old Radio", "url": "http://127.0.0.1:9/clip.wav"])
        XCTAssertEqual(played["status"] as? String, "ok", "\(played)")
        let state = try lab.client.waitFor("\(lab.base)/old-radio/state") { json($0)["state"] as? String == "played" }
        XCTAssertEqual(json(state)["station"] as? Int, 42)
        XCTAssertTrue(lab.daemon.log().contains("abi 1.0 speaker played a clip"))

        try lab.client.publish(topic: "\(lab.base)/Old Radio/set", payload: #"{"command":"tune","station":7,"transaction":"t7"}"#, qos: 1)
        let set = try lab.client.waitFor("\(lab.base)/Old Radio/set/response") { json($0)["transaction"] as? String == "t7" }
        XCTAssertEqual(json(set)["status"] as? String, "ok", set.text)
    }

    /// A plugin that records a minor newer than the host's is refused, and the reason names both
    /// versions; the daemon and the other plugins carry on.
    func testAPluginThatNeedsANewerMinorIsRefusedNamingBothVersions() throws {
        let newer = PluginABI.minor + 1
        let lab = try PluginDaemon { dir, _ in
            try self.buildABI10Speaker(to: dir + "/too-new.so", include: PluginBuild.header,
                                       ["FIXTURE_ABI_MINOR=\(newer)", #"FIXTURE_ID="t.too-new""#])
            try self.buildABI10Speaker(to: dir + "/abi10-speaker.so")
        }
        let info = try lab.info()
        let rejected = (info["rejected"] as? [[String: Any]] ?? []).first { ($0["file"] as? String)?.hasSuffix("/too-new.so") == true }
        let reason = try XCTUnwrap(rejected?["error"] as? String, "too-new.so is refused: \(info)")
        XCTAssertTrue(reason.contains("needs plugin ABI 1.\(newer); this speakerbridge has 1.\(PluginABI.minor)"), reason)
        XCTAssertEqual((info["loaded"] as? [[String: Any]])?.compactMap { $0["id"] as? String }, [oldID])
    }

    /// A third-party Swift plugin package that depends on the SDK package alone builds offline and
    /// resolves none of the host's dependencies.
    func testASwiftPluginPackageNeedsOnlyTheSDK() throws {
        let package = try TempDirectory(prefix: "sbswiftplugin")
        try FileManager.default.createDirectory(atPath: package.path + "/Sources/MyDriver", withIntermediateDirectories: true)
        try """
            // swift-tools-version:6.0
            import PackageDescription

            let package = Package(
                name: "MyDriver",
                products: [.library(name: "MyDriver", type: .dynamic, targets: ["MyDriver"])],
                dependencies: [.package(path: "\(PluginBuild.root)/PluginSDK")],
                targets: [.target(name: "MyDriver", dependencies: [.product(name: "PluginKit", package: "PluginSDK")])]
            )
            """.write(toFile: package.file("Package.swift"), atomically: true, encoding: .utf8)
        try """
            import PluginKit

            @_cdecl("speakerbridge_plugin_entry")
            public func speakerbridgePluginEntry() -> UnsafeRawPointer {
                PluginExport.descriptor(for: MyDriver.self)
            }

            final class MyDriver: SpeakerDriver {
                static let id = "org.example.my-driver"
                static let name = "My driver"
                static let version = "1.0.0"
                let host: PluginHost
                let room: String
                init(host: PluginHost, configuration: NoConfiguration) throws {
                    self.host = host
                    room = try host.settings.string("room", default: "Kitchen")
                }
                var speakers: [Speaker] { [Speaker(id: "my-speaker", name: room)] }
                func play(clip: Clip, on speaker: Speaker) async throws {}
            }
            """.write(toFile: package.file("Sources/MyDriver/MyDriver.swift"), atomically: true, encoding: .utf8)
        let build = try Shell.run(["swift", "build", "--package-path", package.path, "--disable-automatic-resolution"])
        XCTAssertEqual(build.status, 0, build.out + build.err)
        let checkouts = (try? FileManager.default.contentsOfDirectory(atPath: package.file(".build/checkouts"))) ?? []
        XCTAssertEqual(checkouts, [], "nothing fetched")
        XCTAssertFalse(FileManager.default.fileExists(atPath: package.file("Package.resolved")), "no remote dependency to pin")
        XCTAssertTrue(FileManager.default.fileExists(atPath: package.file(".build/debug/libMyDriver.so")))
    }

    /// `scripts/plugin-dev.sh install` puts the whole header tree (and the C helpers) under a
    /// prefix, and a plugin builds from there alone through pkg-config.
    func testInstalledHeadersBuildAPluginThroughPkgConfig() throws {
        let prefix = try TempDirectory(prefix: "sbprefix")
        try Shell.runChecked([PluginBuild.root + "/scripts/plugin-dev.sh", "install", prefix.path])
        let installed = try FileManager.default.subpathsOfDirectory(atPath: prefix.file("include")).filter { $0.hasSuffix(".h") }
        let sdk = try FileManager.default.subpathsOfDirectory(atPath: PluginBuild.header).filter { $0.hasSuffix(".h") }
        XCTAssertEqual(Set(installed.filter { !$0.hasPrefix("speakerbridge/helpers/") }), Set(sdk))
        XCTAssertTrue(installed.contains { $0.hasPrefix("speakerbridge/helpers/") }, "\(installed)")
        let flags = try Shell.runChecked(["env", "PKG_CONFIG_PATH=\(prefix.path)/lib/pkgconfig", "pkg-config", "--cflags", "speakerbridge-plugin"])
            .split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        XCTAssertEqual(flags, ["-I\(prefix.path)/include"])
        try Shell.runChecked(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-shared", "-fPIC"] + flags
                             + [PluginBuild.root + "/Tests/Fixtures/plugins/settings_probe.c", "-o", prefix.file("probe.so")])
    }
}
