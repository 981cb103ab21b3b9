import PluginAPI
import Synchronization

/// What the registry serves right now: each plugin id's slot and what it declared, and every file
/// that was looked at, loaded or not. It is also where the speaker directory asks the drivers.
final class PluginTable: SpeakerDrivers {
    /// A file that was looked at, loaded or not.
    struct FileRecord: Sendable, Equatable {
        var fingerprint: PluginFingerprint
        var pluginID: String?
        var rejection: PluginRejection?
    }

    /// A plugin that is loaded; snapshots are cheap to read.
    struct Loaded: Sendable {
        let slot: PluginSlot
        let file: String
        var info: PluginDescriptorInfo
        var generation: Int
        var commands: [(name: String, signature: String, description: String)]
        var extensions: [String]
    }

    struct State: Sendable {
        var plugins: [String: Loaded] = [:]
        var files: [String: FileRecord] = [:]
        var generationCounter = 0
    }

    let state = Mutex(State())

    func reportSpeakers() async -> [String: [SpeakerInfo]] {
        let drivers = state.withLock { s in s.plugins.filter { $0.value.extensions.contains(SB_EXT_SPEAKER) }.map { ($0.key, $0.value.slot) } }
        var report: [String: [SpeakerInfo]] = [:]
        for (id, slot) in drivers {
            if let speakers = await slot.with(unloaded: nil as [SpeakerInfo]?, { await $0.speakers() }) { report[id] = speakers }
        }
        return report
    }
}
