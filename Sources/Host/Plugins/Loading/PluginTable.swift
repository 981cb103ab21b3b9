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
        /// The generation that serves now (also reachable through the slot, but without waiting:
        /// health and `plugins list` read it while a call may be stuck).
        var serving: any PluginInstance
        var info: PluginDescriptorInfo
        var generation: Int
        var commands: [(name: String, signature: String, description: String)]
        var extensions: [String]
    }

    struct State: Sendable {
        var plugins: [String: Loaded] = [:]
        var files: [String: FileRecord] = [:]
        var generationCounter = 0
        /// Each driver's speakers at the last report (what a crashed driver still shows).
        var lastReported: [String: [SpeakerInfo]] = [:]
    }

    let state = Mutex(State())

    func reportSpeakers() async -> [String: [SpeakerInfo]] {
        let drivers = state.withLock { s in
            s.plugins.filter { $0.value.extensions.contains(SB_EXT_SPEAKER) }.map { ($0.key, $0.value.slot, $0.value.serving) }
        }
        var report: [String: [SpeakerInfo]] = [:]
        for (id, slot, serving) in drivers {
            // A crashed or hung driver keeps the speakers it last reported until it is back, so an
            // announcement to one fails with the reason, not as an unknown speaker; no waiting here.
            let last = state.withLock { $0.lastReported[id] }
            if serving.isHung, let last {
                report[id] = last
            } else if let speakers = await slot.with(unloaded: nil as [SpeakerInfo]?, unavailable: { _ in last }, outageWait: 0, { await $0.speakers() }) {
                report[id] = speakers
            }
        }
        state.withLock { $0.lastReported = report }
        return report
    }
}
