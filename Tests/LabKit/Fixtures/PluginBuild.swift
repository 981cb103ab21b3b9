import Foundation

/// Builds plugins for tests and benchmarks with plain `cc` against the public header, like a third
/// party would, and installs them the way a package manager does.
public enum PluginBuild {
    public static let root: String = {
        // Tests/LabKit/Fixtures/PluginBuild.swift: four levels below the repository root.
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()
    public static var header: String { root + "/PluginSDK/Sources/PluginAPI/include" }
    /// The header-only C helpers (outside the ABI) that the bundled plugins and the example use.
    public static var helpers: String { root + "/PluginSDK/helpers" }

    /// The example log speaker with the tests' hooks (`Tests/Fixtures/plugins/log_speaker_hooks.c`,
    /// which compiles the example in), with `-D` defines for test variants (answer, id, version, ABI).
    public static func logSpeaker(to out: String, _ defines: [String] = []) throws {
        try Shell.runChecked(["cc", "-std=c11", "-O1", "-shared", "-fPIC", "-fvisibility=hidden", "-I", header, "-I", helpers]
            + defines.map { "-D" + $0 } + [root + "/Tests/Fixtures/plugins/log_speaker_hooks.c", "-o", out])
    }

    /// The espeak-ng TTS plugin, built with its own Makefile.
    public static func ttsPlugin(to out: String) throws {
        try Shell.runChecked(["make", "-s", "-C", root + "/Plugins/TTSDriver", "OUT=\(out)"])
    }

    /// The Sonos/UPnP driver, built with its own Makefile.
    public static func sonosDriver(to out: String) throws {
        try Shell.runChecked(["make", "-s", "-C", root + "/Plugins/SonosDriver", "OUT=\(out)"])
    }

    public static func fixture(_ name: String, to out: String, _ defines: [String] = []) throws {
        try Shell.runChecked(["cc", "-std=c11", "-shared", "-fPIC", "-fvisibility=hidden", "-I", header, "-I", helpers]
            + defines.map { "-D" + $0 } + [root + "/Tests/Fixtures/plugins/\(name).c", "-o", out])
    }

    /// Puts `file` in place as `path` in one rename, as a package manager or `install` would, so the
    /// daemon never sees half a file.
    public static func install(_ file: String, as path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        let staging = dir + "/.staging-\(UUID().uuidString)"
        try FileManager.default.copyItem(atPath: file, toPath: staging)
        guard rename(staging, path) == 0 else { throw LabError("rename to \(path) failed") }
    }
}
