import Foundation

/// The plugin folders: every plugin file held to the daemon's own rule (`PluginFileCheck`: owner root
/// or the daemon's user, not writable by group or others, the folder too), and the refusals the
/// running daemon reports for files it did not load.
enum PluginFolderCheck {
    static func check(_ config: Configuration, _ daemon: DaemonAnswers) -> DoctorCheck {
        let name = "plugins"
        let folders = config.pluginDirectories
        var problems: [String] = []
        var fix: String? = nil
        var found: [String] = []
        var details: [String] = []
        for folder in folders {
            var isDir: ObjCBool = false
            if !FileManager.default.fileExists(atPath: folder, isDirectory: &isDir) || !isDir.boolValue {
                details.append("\(folder) does not exist")
            }
        }
        for (path, _) in PluginRegistry.scan(folders) {
            found.append((path as NSString).lastPathComponent)
            do throws(PluginRejection) {
                try PluginFileCheck.check(path)
            } catch {
                problems.append("refused by the plugin file rule: \(error.description)")
                if fix == nil { fix = fixFor(error, path: path) }
            }
        }
        if case .data(let data) = daemon.plugins {
            for r in data["rejected"]?.arrayValue ?? [] {
                let file = r["file"]?.stringValue ?? "?"
                let error = r["error"]?.stringValue ?? "?"
                // The rule above already explained a refusal for an unsafe file.
                if !problems.contains(where: { $0.hasSuffix(error) }) { problems.append("the daemon refused \(file): \(error)") }
                if fix == nil { fix = "speakerbridge plugin check \(file) explains it in full; after fixing, speakerbridge plugins reload" }
            }
            let loaded = (data["loaded"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue }
            if !loaded.isEmpty { details.append("the daemon runs: " + loaded.joined(separator: ", ")) }
        } else {
            details.append("the daemon's refusals: " + daemon.silence(config))
        }
        let list = folders.joined(separator: ":")
        if !problems.isEmpty {
            return .fail(name, "\(problems.count) plugin problem\(problems.count == 1 ? "" : "s") in \(list)", details: problems + details,
                         fix: fix ?? "see above")
        }
        if found.isEmpty {
            return .warn(name, "no plugin (*.so) in \(list)", details: details + ["without a TTS plugin and a speaker driver nothing is announced"],
                         fix: "copy the plugins (make run builds them into out/plugins) into \(folders.first ?? "the plugin folder"), or set plugins.path")
        }
        return .ok(name, "\(found.count) plugin file\(found.count == 1 ? "" : "s") in \(list), owner and modes safe: " + found.joined(separator: ", "),
                   details: details)
    }

    private static func fixFor(_ error: PluginRejection, path: String) -> String {
        guard case .unsafeFile(_, let reason) = error else { return "speakerbridge plugin check \(path) explains it in full" }
        let folder = (path as NSString).deletingLastPathComponent
        let target = reason.contains("its folder") ? folder : path
        if reason.contains("writable by group or others") { return "chmod go-w \(target)" }
        if reason.contains("owned by uid") { return "chown root \(target) (or the daemon's user)" }
        return "speakerbridge plugin check \(path) explains it in full"
    }
}
