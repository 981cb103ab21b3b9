import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// A daemon stop ends within 10 s whatever a plugin does (Docker's and compose's default grace):
/// nobody queues behind a plugin that does not return, a hung inline instance is left alone (its
/// code stays mapped until the process exits), and destroying all plugins, in parallel, gets one
/// budget instead of a call timeout each.
extension PluginRegistry {
    /// The daemon begins to stop (before the router finishes its requests in hand): callers
    /// queued behind a hung plugin stop waiting now, and callers still waiting for any plugin after
    /// `PluginSupervisor.stopCallGrace` seconds stop waiting then. No restart starts from now on.
    public func beginStop() {
        let first = supervisor.stopBegan.withLock { began in
            defer { began = began ?? .now }
            return began == nil
        }
        guard first else { return }
        let serving = table.state.withLock { $0.plugins.values.map(\.serving) }
        for instance in serving where instance.isHung { instance.abandonCalls() }
        let grace = min(PluginSupervisor.stopCallGrace, settings.callTimeout)
        Task { [table, logger] in
            try? await Task.sleep(for: .milliseconds(Int(grace * 1000)))
            let all = table.state.withLock { $0.plugins.values.map { ($0.info.id, $0.serving) } }
            for (id, instance) in all where instance.isHung {
                logger.warning("plugins: stopping: \(id) is not responding; its callers stop waiting")
            }
            for (_, instance) in all {
                instance.abandonCalls()
                Task { await PluginRegistry.endOperations(of: instance) }
            }
        }
    }

    /// Operations still waited for at a stop (a `play` request whose clip plays on, a driver that
    /// never completes) end: the plugin is asked to cancel them (at most 1 s: a speaker would play
    /// on otherwise), then whatever is left fails, so no caller holds up the stop.
    static func endOperations(of instance: any PluginInstance) async {
        let context = instance.context, owner = ObjectIdentifier(context)
        let pending = context.operations.pendingIDs(owner: owner)
        guard !pending.isEmpty else { return }
        if !instance.isHung {
            _ = await run(until: .now + .seconds(1)) {
                for operation in pending { await instance.cancel(operation: operation) }
            }
        }
        context.operations.failAll(owner: owner, reason: "plugin \(instance.info.id): the daemon is stopping")
    }

    /// Destroys every instance (daemon shutdown), all at once, within the stop's budget.
    public func unloadAll() async {
        beginStop()
        let began = supervisor.stopBegan.withLock { $0 } ?? .now
        let deadline = max(began + .seconds(PluginSupervisor.stopBudget), .now + .seconds(1))
        let done = await Self.run(until: deadline) { [self] in
            await serial.run {
                let all = table.state.withLock { s in defer { s.plugins.removeAll() }; return Array(s.plugins.values) }
                await withDiscardingTaskGroup { group in
                    for p in all { group.addTask { await self.unload(p) } }
                }
            }
        }
        if !done {
            let left = table.state.withLock { $0.plugins.keys.sorted() }
            logger.error("plugins: not every plugin was destroyed within \(Int(PluginSupervisor.stopBudget)) s of the stop\(left.isEmpty ? "" : " (\(left.joined(separator: ", ")))"); stopping without waiting for them")
        }
    }

    /// One plugin's part of the stop.
    private func unload(_ p: PluginTable.Loaded) async {
        // No freeze (a reload's wait for the calls inside): a call inside may wait for an
        // operation that only the shutdown below cancels. New callers are turned away.
        await p.slot.retire()
        let instance = await p.slot.current
        if instance.isolation == .inline, instance.isHung {
            // Destroy would queue behind the stuck call: leave the instance as it is; the process
            // ends soon, and its code stays mapped until then.
            let what = instance.hang.map { " (\($0.what) for \(Int($0.seconds.rounded())) s)" } ?? ""
            logger.warning("plugins: \(p.info.id)#\(instance.number) is not responding\(what); not destroyed")
            return
        }
        await instance.shutdown()
    }

    /// Runs `body` and waits for it until `deadline`; false when the deadline came first (the
    /// body goes on in the background: nothing can stop a plugin call that does not return).
    static func run(until deadline: ContinuousClock.Instant, _ body: @escaping @Sendable () async -> Void) async -> Bool {
        let once = OnceFlag()
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            Task {
                await body()
                if once.claim() { continuation.resume(returning: true) }
            }
            Task {
                try? await Task.sleep(until: deadline, clock: .continuous)
                if once.claim() { continuation.resume(returning: false) }
            }
        }
    }
}

/// True for the first caller only.
final class OnceFlag: Sendable {
    private let taken = Mutex(false)
    func claim() -> Bool { taken.withLock { t in defer { t = true }; return !t } }
}

/// Tells the plugins the moment a graceful shutdown begins. Services hear of a shutdown in
/// reverse order, one after the other, so the plugin service itself learns only after the router
/// has finished its requests in hand, which may be waiting for a hung plugin: this one is
/// placed after the router and hears first.
public struct PluginStopNotice: Service {
    let registry: PluginRegistry
    public init(registry: PluginRegistry) { self.registry = registry }

    public func run() async throws {
        try? await gracefulShutdown()
        registry.beginStop()
    }
}
