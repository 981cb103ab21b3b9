import Foundation
import PluginAPI
import Logging
import Synchronization

/// All plugins of the daemon: loads every file of the plugin folders, keeps each id in a slot,
/// reloads blue/green (calls: `PluginCalls.swift`, bridge/info: `PluginInfoJSON.swift`). One bad
/// plugin never stops the others.
public final class PluginRegistry: Sendable {
    public struct Settings: Sendable {
        public var directories: [String]
        public var cacheDirectory: String
        public var callTimeout: Double
        public var operationTimeout: Double
        /// Where plugin code runs unless `isolationOverrides` names its file (without `.so`).
        public var isolation: PluginIsolation
        public var isolationOverrides: [String: PluginIsolation]
        /// An isolated plugin's caps: address space (MiB) and open files.
        public var memoryLimitMB: Int
        public var openFilesLimit: Int
        public init(directories: [String], cacheDirectory: String, callTimeout: Double, operationTimeout: Double,
                    isolation: PluginIsolation = .inline, isolationOverrides: [String: PluginIsolation] = [:],
                    memoryLimitMB: Int = 4096, openFilesLimit: Int = 256) {
            self.directories = directories
            self.cacheDirectory = cacheDirectory
            self.callTimeout = callTimeout
            self.operationTimeout = operationTimeout
            self.isolation = isolation
            self.isolationOverrides = isolationOverrides
            self.memoryLimitMB = memoryLimitMB
            self.openFilesLimit = openFilesLimit
        }

        /// How the plugin file named `base` (without `.so`) runs.
        func isolation(of base: String) -> PluginIsolation { isolationOverrides[base] ?? isolation }
    }

    let settings: Settings
    let logger: Logger
    let topics: Topics
    let publisher: any PluginPublisher
    private let media: (any PluginMediaStore)?
    private let network: PluginNetworkServices
    public let operations = OperationTable()
    let table = PluginTable()
    /// Crashes, restarts, the crash-loop guard and the stop (`PluginSupervisor.swift`).
    let supervisor = PluginSupervisor()
    /// The drivers' speakers; plugin loads, reloads and unloads and the drivers' availability
    /// reports refresh it.
    public let directory: SpeakerDirectory
    let changed: @Sendable () -> Void
    private let metrics: DaemonMetrics?
    /// Reloads and loads run one at a time.
    let serial = SerialGate()

    public init(settings: Settings, topics: Topics, publisher: any PluginPublisher, media: (any PluginMediaStore)? = nil,
                network: PluginNetworkServices = .init(), logger: Logger, changed: @escaping @Sendable () -> Void = {},
                metrics: DaemonMetrics? = nil) {
        self.metrics = metrics
        self.media = media
        self.network = network
        self.settings = settings
        self.topics = topics
        self.publisher = publisher
        self.logger = logger
        self.changed = changed
        directory = SpeakerDirectory(drivers: table, changed: changed)
    }

    // MARK: loading

    /// Loads every `*.so` of the plugin folders. Rejections are logged and kept for bridge/info.
    public func loadAll() async {
        await serial.run {
            try? FileManager.default.createDirectory(atPath: settings.cacheDirectory, withIntermediateDirectories: true)
            // Copies left by an earlier run (a kill -9 skips the cleanup).
            for stale in (try? FileManager.default.contentsOfDirectory(atPath: settings.cacheDirectory)) ?? [] {
                unlink(settings.cacheDirectory + "/" + stale)
            }
            for (path, fingerprint) in PluginRegistry.scan(settings.directories) {
                await load(path: path, fingerprint: fingerprint)
            }
        }
        await directory.refresh()
        changed()
    }

    static func scan(_ directories: [String]) -> [(String, PluginFingerprint)] {
        var result: [(String, PluginFingerprint)] = []
        for dir in directories {
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".so") }.sorted()
            for name in names {
                let path = dir + "/" + name
                if let f = FileFingerprint(path: path) {
                    result.append((path, PluginFingerprint(library: f, settings: FileFingerprint(path: PluginSettingsFile.path(for: path)))))
                }
            }
        }
        return result
    }

    private func nextGeneration() -> Int { table.state.withLock { $0.generationCounter += 1; return $0.generationCounter } }

    /// Opens the file and starts a generation of it (not yet serving).
    func startGeneration(path: String) async throws(PluginRejection) -> any PluginInstance {
        // Settings first: a bad settings file refuses the plugin before its code is even mapped.
        let configJSON = try PluginSettingsFile.load(for: path)
        let number = nextGeneration()
        let base = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        let loadAs = "\(settings.cacheDirectory)/\(base).\(number).\(getpid()).so"
        if settings.isolation(of: base) == .process {
            // Its own plugin host process maps the file; the daemon never does.
            return try await RemoteGeneration.start(
                source: path, loadAs: loadAs, number: number, configJSON: configJSON, callTimeout: settings.callTimeout,
                limits: PluginProcess.Limits(memoryLimitMB: settings.memoryLimitMB, openFilesLimit: settings.openFilesLimit),
                logger: logger, topics: topics, publisher: publisher, operations: operations, media: media, network: network,
                speakersChanged: { [directory] in directory.driversChanged() }, metrics: metrics,
                // An end nobody asked for, once it serves: the crash report and the restart
                // (PluginRestarts.swift).
                onExit: { [self] exit in pluginExited(file: path, generation: number, exit) })
        }
        let library = try PluginLibrary(source: path, loadAs: loadAs)
        return try await PluginGeneration.start(
            library: library, number: number, configJSON: configJSON, callTimeout: settings.callTimeout,
            logger: logger, topics: topics, publisher: publisher, operations: operations, media: media, network: network,
            speakersChanged: { [directory] in directory.driversChanged() }, metrics: metrics)
    }

    private func load(path: String, fingerprint: PluginFingerprint) async {
        do {
            let generation = try await startGeneration(path: path)
            let id = generation.info.id
            if let other = table.state.withLock({ $0.plugins[id]?.file }) {
                await generation.shutdown()
                throw PluginRejection.duplicateID(path: path, id: id, loadedFrom: other)
            }
            let loaded = describe(generation, slot: PluginSlot(generation), file: path)
            table.state.withLock {
                $0.plugins[id] = loaded
                $0.files[path] = PluginTable.FileRecord(fingerprint: fingerprint, pluginID: id, rejection: nil)
            }
            generation.armCrashReport()
            logger.info("plugins: loaded \(id) \(generation.info.version) (generation \(generation.number)) from \(path): \(loaded.commands.count) commands")
        } catch let rejection as PluginRejection {
            table.state.withLock { $0.files[path] = PluginTable.FileRecord(fingerprint: fingerprint, pluginID: nil, rejection: rejection) }
            logger.error("plugins: rejected \(rejection)")
        } catch {
            logger.error("plugins: \(path): \(error)")
        }
    }

    func describe(_ g: any PluginInstance, slot: PluginSlot, file: String) -> PluginTable.Loaded {
        PluginTable.Loaded(slot: slot, file: file, serving: g, info: g.info, generation: g.number,
               commands: g.commands.values.sorted { $0.name < $1.name }.map { ($0.name, $0.signatureText, $0.description) },
               extensions: g.extensions)
    }

    // MARK: reload

    public struct ReloadResult: Sendable, Equatable {
        public let file: String
        public let pluginID: String?
        public let outcome: String      // loaded, reloaded, unloaded, failed
        public let generation: Int?
        public let error: String?
    }

    /// Reloads the plugin with `id` (nil: all of them, and picks up new and removed files).
    public func reload(id: String? = nil) async -> [ReloadResult] {
        let results = await serial.run { () -> [ReloadResult] in
            var results: [ReloadResult] = []
            let onDisk = Dictionary(PluginRegistry.scan(settings.directories), uniquingKeysWith: { a, _ in a })
            let known = table.state.withLock { $0.files }
            if let id {
                guard let file = table.state.withLock({ $0.plugins[id]?.file }) else {
                    return [ReloadResult(file: "", pluginID: id, outcome: "failed", generation: nil, error: "no plugin with id \(id) is loaded")]
                }
                results.append(await replace(file: file, fingerprint: onDisk[file]))
                return results
            }
            for path in Set(onDisk.keys).union(known.keys).sorted() {
                results.append(await replace(file: path, fingerprint: onDisk[path]))
            }
            return results
        }
        for result in results { metrics?.pluginReloaded(outcome: result.outcome) }
        await directory.refresh()
        changed()
        return results
    }

    /// Reloads only the files whose fingerprint changed since they were last looked at.
    func reloadChanged() async -> [ReloadResult] {
        let results = await serial.run { () -> [ReloadResult] in
            let onDisk = Dictionary(PluginRegistry.scan(settings.directories), uniquingKeysWith: { a, _ in a })
            let known = table.state.withLock { $0.files }
            var results: [ReloadResult] = []
            for path in Set(onDisk.keys).union(known.keys).sorted() where onDisk[path] != known[path]?.fingerprint {
                results.append(await replace(file: path, fingerprint: onDisk[path]))
            }
            return results
        }
        for result in results { metrics?.pluginReloaded(outcome: result.outcome) }
        if !results.isEmpty {
            await directory.refresh()
            changed()
        }
        return results
    }

    /// Blue/green for one file: start the new build beside the old, freeze the old (callers wait),
    /// hand its state over, swap, then retire the old generation. Any failure before the swap
    /// leaves the old generation serving.
    private func replace(file: String, fingerprint: PluginFingerprint?) async -> ReloadResult {
        let current = table.state.withLock { s in s.files[file]?.pluginID.flatMap { s.plugins[$0] } }
        guard let fingerprint else {
            // Removed from the folder: unload.
            table.state.withLock { s in
                s.files[file] = nil
                if let id = current?.info.id { s.plugins[id] = nil }
            }
            guard let current else { return ReloadResult(file: file, pluginID: nil, outcome: "unloaded", generation: nil, error: nil) }
            await current.slot.freeze()
            let old = await current.slot.current
            await current.slot.retire()
            await old.shutdown()
            supervisor.reset(current.info.id, keepingState: false)
            logger.info("plugins: unloaded \(current.info.id) (its file \(file) is gone)")
            return ReloadResult(file: file, pluginID: current.info.id, outcome: "unloaded", generation: nil, error: nil)
        }
        guard let current else {
            await load(path: file, fingerprint: fingerprint)
            let record = table.state.withLock { $0.files[file] }
            let id = record?.pluginID
            return ReloadResult(file: file, pluginID: id, outcome: id == nil ? "failed" : "loaded",
                                generation: id.flatMap { i in table.state.withLock { $0.plugins[i]?.generation } },
                                error: record?.rejection?.description)
        }
        let id = current.info.id
        func failed(_ r: PluginRejection) -> ReloadResult {
            table.state.withLock { $0.files[file]?.fingerprint = fingerprint; $0.files[file]?.rejection = r }
            logger.error("plugins: reload of \(id) failed, generation \(current.generation) keeps serving: \(r)")
            return ReloadResult(file: file, pluginID: id, outcome: "failed", generation: current.generation, error: r.description)
        }
        let next: any PluginInstance
        do { next = try await startGeneration(path: file) } catch { return failed(error) }
        guard next.info.id == id else {
            await next.shutdown()
            return failed(.invalidID(path: file, id: "\(next.info.id) (the file used to provide \(id); remove and re-add it to change ids)"))
        }
        await current.slot.freeze()
        let old = await current.slot.current
        do {
            let crashed = supervisor.record(id).state != .running
            if crashed {
                // Its process is gone (restarting or down): the last state it saved goes over.
                if next.offersState, let blob = supervisor.record(id).savedState {
                    try await next.loadState(version: blob.version, bytes: blob.bytes)
                }
            } else if old.isHung {
                // A stuck generation cannot save; replacing it is the way out, without its state.
                logger.warning("plugins: \(id) generation \(old.number) is not responding; reloading without handing its state over")
            } else if next.offersState, let blob = try await old.saveState() {
                // Kept too: a crash of the new generation restarts it with this state.
                supervisor.update(id) { $0.savedState = blob }
                try await next.loadState(version: blob.version, bytes: blob.bytes)
            }
        } catch {
            await current.slot.thaw(serving: nil)
            await next.shutdown()
            return failed(error)
        }
        var updated = describe(next, slot: current.slot, file: file)
        updated.generation = next.number
        await current.slot.thaw(serving: next)
        // A reload is the way out of the crash-loop guard: the count starts afresh.
        supervisor.reset(id)
        table.state.withLock {
            $0.plugins[id] = updated
            $0.files[file] = PluginTable.FileRecord(fingerprint: fingerprint, pluginID: id, rejection: nil)
        }
        next.armCrashReport()
        logger.info("plugins: reloaded \(id) \(next.info.version): generation \(old.number) -> \(next.number)")
        await old.shutdown()
        return ReloadResult(file: file, pluginID: id, outcome: "reloaded", generation: next.number, error: nil)
    }

    // Destroying every instance at a daemon stop: `PluginStop.swift`.
}
