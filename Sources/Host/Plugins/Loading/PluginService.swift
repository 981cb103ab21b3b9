import Logging
import ServiceLifecycle
import UnixSignals

/// The plugin registry as a service: loads the plugins at start, reloads on SIGHUP and when files
/// in the plugin folders change (a plugin's `.so` or its `.json` settings; debounced: a file must look the same on two checks in a row, so
/// a copy still being written is not loaded half-way), and destroys every instance at shutdown.
public final class PluginService: Service, Sendable {
    private let registry: PluginRegistry
    private let watch: Bool
    private let interval: Double
    private let logger: Logger
    private let changes: AsyncStream<Void>
    private let publishInfo: @Sendable () -> Void
    private let startsAfter: Readiness<Int>?
    private let serviceManager: ServiceNotifier?
    /// Opened once the first load is done (every plugin loaded or refused).
    public let loaded = Readiness<Void>()

    /// `changes` rings when the set of plugins changed; `publishInfo` then re-publishes bridge/info.
    /// The first load waits for `startsAfter` (ready or failed): plugins build clip and callback
    /// URLs in `create`, so they need the media server's port.
    public init(registry: PluginRegistry, watch: Bool, interval: Double, changes: AsyncStream<Void>,
                startsAfter: Readiness<Int>? = nil,
                publishInfo: @escaping @Sendable () -> Void, serviceManager: ServiceNotifier? = nil, logger: Logger) {
        self.startsAfter = startsAfter
        self.serviceManager = serviceManager
        self.changes = changes
        self.publishInfo = publishInfo
        self.registry = registry
        self.watch = watch
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        // Trap SIGHUP before the (possibly slow) first load: its default action would end the daemon.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        _ = try? await startsAfter?.wait()
        await registry.loadAll()
        loaded.open()
        await withDiscardingTaskGroup { group in
            group.addTask { [registry, logger, serviceManager] in
                for await _ in hangups.cancelOnGracefulShutdown() {
                    logger.notice("plugins: SIGHUP: reloading all plugins")
                    // `systemctl reload` sends the SIGHUP: systemd shows "reloading" until READY=1.
                    serviceManager?.reloading()
                    _ = await registry.reload()
                    serviceManager?.reloaded()
                }
            }
            group.addTask { [changes, publishInfo] in
                for await _ in changes.cancelOnGracefulShutdown() { publishInfo() }
            }
            if watch {
                group.addTask { [self] in await self.watchFolders() }
            }
            // The state a crashed plugin's restart is handed.
            group.addTask { [registry] in await registry.keepSavingStates() }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        await registry.unloadAll()
        logger.info("plugins: all instances destroyed")
    }

    private func watchFolders() async {
        var last = PluginRegistry.scan(registry.settings.directories).map { "\($0.0) \($0.1)" }
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: .milliseconds(Int(interval * 1000)))
            let now = PluginRegistry.scan(registry.settings.directories).map { "\($0.0) \($0.1)" }
            // Act only once the folder has stopped changing between two looks.
            if now == last {
                let results = await registry.reloadChanged()
                for r in results { logger.info("plugins: folder change: \(r.file): \(r.outcome)\(r.error.map { " (\($0))" } ?? "")") }
            }
            last = now
        }
    }
}
