import Foundation
import Logging

/// What happens when a plugin host process ends without being asked to (a crash, an exit, a
/// closed socket, or killed for hanging): the report, its speakers `offline`, an event, and a
/// restart of the same file after a backoff with the last saved state, unless the crash-loop
/// guard says it stays down until a reload. The serving generation only: one being replaced by
/// a reload or ended by a stop is not restarted.
extension PluginRegistry {
    /// `onExit` of the process of generation `number` of `file`.
    func pluginExited(file: String, generation number: Int, _ exit: PluginExit) {
        guard let p = table.state.withLock({ s in s.plugins.values.first { $0.file == file && $0.generation == number } }) else {
            logger.notice("plugins: \(file) generation \(number) \(exit.reason) (not serving: nothing to restart)")
            return
        }
        let id = p.info.id
        let cause = exit.signalName ?? exit.exitStatus.map { "exit status \($0)" } ?? exit.reason
        let now = Date()
        let record = supervisor.update(id) { r -> PluginSupervisor.Record in
            r.crashes = r.crashes.filter { now.timeIntervalSince($0) < PluginSupervisor.crashWindow } + [now]
            r.lastExit = exit.reason
            r.lastCause = cause
            r.crashedGeneration = number
            r.state = r.crashes.count >= PluginSupervisor.crashLimit ? .down : .restarting
            return r
        }
        let lines = exit.lastLines.isEmpty ? "" : "; its last output:\n  " + exit.lastLines.joined(separator: "\n  ")
        logger.error("plugins: \(id)#\(number) \(exit.reason)\(lines)")
        let speakers = directory.speakers(of: id)
        for s in speakers {
            publisher.publish(OutboundMessage(topic: "\(topics.base)/\(s.id)/availability", payload: Array("offline".utf8), retain: true))
        }
        let outage = PluginSupervisor.outage(id: id, record: record) ?? "plugin \(id) \(exit.reason)"
        publishCrashEvent(id: id, exit: exit, record: record)
        if record.state == .down {
            logger.error("plugins: \(id) crashed \(record.crashes.count) times in \(Int(PluginSupervisor.crashWindow)) s; it stays down until it is reloaded")
        }
        let delay = PluginSupervisor.backoff(crashesInWindow: record.crashes.count)
        Task { [self] in
            await p.slot.beginOutage(outage, final: record.state == .down)
            changed()
            guard record.state != .down else { return }
            try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
            await restart(id: id, file: file, crashed: number)
        }
    }

    /// `<base>/bridge/event/plugin_crashed`: {plugin, reason, restarts, state, last_lines}.
    private func publishCrashEvent(id: String, exit: PluginExit, record: PluginSupervisor.Record) {
        let event: JSONValue = [
            "plugin": .string(id), "reason": .string(exit.reason), "signal": .optional(exit.signalName),
            "exit_status": exit.exitStatus.map { .number(Double($0)) } ?? .null, "hung": .bool(exit.wasHung),
            "restarts": .number(Double(record.restarts)), "state": .string(record.state.rawValue),
            "crashes_in_window": .number(Double(record.crashes.count)),
            "last_lines": .array(exit.lastLines.suffix(5).map { .string($0) }),
        ]
        publisher.publish(OutboundMessage(topic: "\(topics.base)/bridge/event/plugin_crashed", json: event))
    }

    /// Starts a new generation of `file` in place of the crashed one, as a reload would, with the
    /// last saved state. A failure counts as another crash (backoff, then the guard).
    private func restart(id: String, file: String, crashed number: Int) async {
        await serial.run {
            // A reload or a stop came first: nothing to do.
            guard !supervisor.isStopping,
                  let p = table.state.withLock({ $0.plugins[id] }), p.generation == number, p.file == file else { return }
            let next: any PluginInstance
            do {
                next = try await startGeneration(path: file)
                guard next.info.id == id else {
                    await next.shutdown()
                    throw PluginRejection.invalidID(path: file, id: "\(next.info.id) (the file used to provide \(id))")
                }
                if next.offersState, let blob = supervisor.record(id).savedState {
                    try await next.loadState(version: blob.version, bytes: blob.bytes)
                }
            } catch {
                restartFailed(id: id, file: file, crashed: number, slot: p.slot, error: "\(error)")
                return
            }
            guard !supervisor.isStopping else { await next.shutdown(); return }
            let old = p.serving
            var updated = describe(next, slot: p.slot, file: file)
            updated.generation = next.number
            table.state.withLock { $0.plugins[id] = updated }
            let restarts = supervisor.update(id) { r -> Int in
                r.state = .running
                r.restarts += 1
                r.crashedGeneration = nil
                return r.restarts
            }
            await p.slot.restored(serving: next)
            logger.notice("plugins: \(id) restarted after a crash: generation \(number) -> \(next.number) (restart \(restarts))")
            // Last: a crash it had meanwhile is reported now, and its record must not be overwritten
            // by the lines above (that would say `running`, and undo the crash-loop guard's `down`).
            next.armCrashReport()
            // The dead generation: its process is gone; this only releases what the daemon kept for it.
            await old.shutdown()
        }
        await directory.refresh()
        changed()
    }

    private func restartFailed(id: String, file: String, crashed number: Int, slot: PluginSlot, error: String) {
        let now = Date()
        let record = supervisor.update(id) { r -> PluginSupervisor.Record in
            r.crashes = r.crashes.filter { now.timeIntervalSince($0) < PluginSupervisor.crashWindow } + [now]
            r.state = r.crashes.count >= PluginSupervisor.crashLimit ? .down : .crashed
            r.lastExit = "restart failed: \(error)"
            return r
        }
        logger.error("plugins: \(id): the restart after a crash failed: \(error)")
        let delay = PluginSupervisor.backoff(crashesInWindow: record.crashes.count)
        Task { [self] in
            if record.state == .down {
                await slot.beginOutage(PluginSupervisor.outage(id: id, record: record) ?? error, final: true)
                changed()
                return
            }
            try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
            await restart(id: id, file: file, crashed: number)
        }
    }
}
