import Foundation

/// The last state blob of every isolated plugin, kept in memory so a restart after a crash can
/// hand it to the new process (the crashed one cannot be asked any more). Asked every
/// `PluginSupervisor.saveInterval` seconds; a reload's handover updates it too.
extension PluginRegistry {
    /// Runs until the task is cancelled (the plugin service's lifetime).
    func keepSavingStates() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(PluginSupervisor.saveInterval))
            if Task.isCancelled || supervisor.isStopping { return }
            await saveStates()
        }
    }

    /// Asks each serving isolated plugin that offers state and is well for its blob now.
    func saveStates() async {
        let plugins = table.state.withLock { Array($0.plugins.values) }
        for p in plugins where p.serving.isolation == .process && p.serving.offersState && !p.serving.isHung {
            let id = p.info.id
            guard supervisor.record(id).state == .running else { continue }
            // Through the slot: never during a reload's swap, and not waiting for a crashed one.
            let blob = await p.slot.with(unloaded: nil, unavailable: { _ in nil }, outageWait: 0) { g in
                try? await g.saveState()
            }
            if let blob { supervisor.update(id) { $0.savedState = blob } }
        }
    }
}
