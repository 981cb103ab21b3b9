import Foundation

/// The speaker drivers the running daemon has loaded, as its `plugins` request lists them: a driver
/// with no speaker (the Sonos driver with discovery off and no static addresses, or one that has
/// found nothing on the network) announces nothing, though the daemon runs and nothing failed.
enum SpeakerDriversCheck {
    /// The extension a plugin offers when it drives speakers (SB_EXT_SPEAKER).
    static let speakerExtension = "speakerbridge.speaker/1"

    static func check(_ config: Configuration, _ daemon: DaemonAnswers) -> DoctorCheck {
        let name = "speaker drivers"
        guard case .data(let data) = daemon.plugins else {
            return .warn(name, daemon.silence(config), fix: nil)
        }
        let drivers = (data["loaded"]?.arrayValue ?? []).filter { plugin in
            (plugin["extensions"]?.arrayValue ?? []).contains { $0.stringValue == speakerExtension }
        }
        guard !drivers.isEmpty else {
            return .warn(name, "no speaker driver is loaded", details: ["announcements have nowhere to go"],
                         fix: "put a speaker driver (sonos.so; make run builds it into out/plugins) into \(config.pluginDirectories.first ?? "a plugin folder")")
        }
        var idle: [String] = []
        var details: [String] = []
        for driver in drivers {
            let id = driver["id"]?.stringValue ?? "?"
            let speakers = (driver["speakers"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue }
            if speakers.isEmpty {
                idle.append(id)
                let file = ((driver["file"]?.stringValue ?? id) as NSString).deletingPathExtension + ".json"
                details.append("\(id) has nothing to drive: its settings (\(file)) list no speakers and it has found none (discovery off, or nothing answered on the network); its log says which")
            } else {
                details.append("\(id): " + speakers.joined(separator: ", "))
            }
        }
        if !idle.isEmpty {
            return .warn(name, "\(idle.joined(separator: ", ")) drive\(idle.count == 1 ? "s" : "") no speaker", details: details,
                         fix: "list the speakers' addresses in the driver's settings (\"speakers\") or switch its discovery on; an edit of the file reloads the driver")
        }
        let total = drivers.reduce(0) { $0 + ($1["speakers"]?.arrayValue?.count ?? 0) }
        return .ok(name, "\(drivers.count) driver\(drivers.count == 1 ? "" : "s") with \(total) speaker\(total == 1 ? "" : "s")", details: details)
    }
}
