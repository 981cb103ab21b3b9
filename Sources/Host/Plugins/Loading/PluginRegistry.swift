import Foundation
import PluginAPI
import Logging
import Synchronization

/// All plugins of the daemon: loads every file of the plugin folders, keeps each id in a slot,
/// reloads blue/green, and answers for bridge/info. One bad plugin never stops the others.
public final class PluginRegistry: Sendable {
    public struct Settings: Sendable {
        public var directories: [String]
        public var cacheDirectory: String
        public var callTimeout: Double
        public var operationTimeout: Double
        public init(directories: [String], cacheDirectory: String, callTimeout: Double, operationTimeout: Double) {
            self.directories = directories
            self.cacheDirectory = cacheDirectory
            self.callTimeout = callTimeout
            self.operationTimeout = operationTimeout
        }
    }

    /// A file that was looked at, loaded or not.
    struct FileRecord: Sendable, Equatable {
        var fingerprint: PluginFingerprint
        var pluginID: String?
        var rejection: PluginRejection?
    }

    /// What the registry serves right now; snapshots are cheap to read.
    struct Loaded: Sendable {
        let slot: PluginSlot
        let file: String
        var info: PluginDescriptorInfo
        var generation: Int
        var speakers: [SpeakerInfo]
        var commands: [(name: String, signature: String, description: String)]
        var extensions: [String]
    }

    private struct State: Sendable {
        var plugins: [String: Loaded] = [:]
        var files: [String: FileRecord] = [:]
        var generationCounter = 0
        var loaded = false
    }

    let settings: Settings
    private let logger: Logger
    private let topics: Topics
    private let publisher: any PluginPublisher
    private let media: (any PluginMediaStore)?
    private let network: PluginNetworkServices
    public let operations = OperationTable()
    private let state = Mutex(State())
    private let changed: @Sendable () -> Void
    /// Rings when a driver says a speaker came or went, so the host asks it at once instead of at
    /// the next periodic refresh (one pending ring is enough).
    public let speakerChanges: AsyncStream<Void>
    private let speakerChangesRing: AsyncStream<Void>.Continuation
    /// Reloads and loads run one at a time.
    private let serial = SerialGate()

    public init(settings: Settings, topics: Topics, publisher: any PluginPublisher, media: (any PluginMediaStore)? = nil,
                network: PluginNetworkServices = .init(), logger: Logger, changed: @escaping @Sendable () -> Void = {}) {
        self.media = media
        self.network = network
        self.settings = settings
        self.topics = topics
        self.publisher = publisher
        self.logger = logger
        self.changed = changed
        (speakerChanges, speakerChangesRing) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
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
            state.withLock { $0.loaded = true }
        }
        changed()
    }

    var isLoaded: Bool { state.withLock { $0.loaded } }

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

    private func nextGeneration() -> Int { state.withLock { $0.generationCounter += 1; return $0.generationCounter } }

    /// Opens the file and starts a generation of it (not yet serving).
    private func startGeneration(path: String) async throws(PluginRejection) -> PluginGeneration {
        // Settings first: a bad settings file refuses the plugin before its code is even mapped.
        let configJSON = try PluginSettingsFile.load(for: path)
        let number = nextGeneration()
        let base = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        let library = try PluginLibrary(source: path, loadAs: "\(settings.cacheDirectory)/\(base).\(number).\(getpid()).so")
        return try await PluginGeneration.start(
            library: library, number: number, configJSON: configJSON, callTimeout: settings.callTimeout,
            logger: logger, topics: topics, publisher: publisher, operations: operations, media: media, network: network,
            speakersChanged: { [ring = speakerChangesRing] in ring.yield() })
    }

    private func load(path: String, fingerprint: PluginFingerprint) async {
        do {
            let generation = try await startGeneration(path: path)
            let id = generation.info.id
            if let other = state.withLock({ $0.plugins[id]?.file }) {
                await generation.shutdown()
                throw PluginRejection.duplicateID(path: path, id: id, loadedFrom: other)
            }
            let loaded = await describe(generation, slot: PluginSlot(generation), file: path)
            state.withLock {
                $0.plugins[id] = loaded
                $0.files[path] = FileRecord(fingerprint: fingerprint, pluginID: id, rejection: nil)
            }
            logger.info("plugins: loaded \(id) \(generation.info.version) (generation \(generation.number)) from \(path): \(loaded.speakers.count) speakers, \(loaded.commands.count) commands")
        } catch let rejection as PluginRejection {
            state.withLock { $0.files[path] = FileRecord(fingerprint: fingerprint, pluginID: nil, rejection: rejection) }
            logger.error("plugins: rejected \(rejection)")
        } catch {
            logger.error("plugins: \(path): \(error)")
        }
    }

    private func describe(_ g: PluginGeneration, slot: PluginSlot, file: String) async -> Loaded {
        Loaded(slot: slot, file: file, info: g.info, generation: g.number, speakers: await g.speakers(),
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
            let known = state.withLock { $0.files }
            if let id {
                guard let file = state.withLock({ $0.plugins[id]?.file }) else {
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
        changed()
        return results
    }

    /// Reloads only the files whose fingerprint changed since they were last looked at.
    func reloadChanged() async -> [ReloadResult] {
        let results = await serial.run { () -> [ReloadResult] in
            let onDisk = Dictionary(PluginRegistry.scan(settings.directories), uniquingKeysWith: { a, _ in a })
            let known = state.withLock { $0.files }
            var results: [ReloadResult] = []
            for path in Set(onDisk.keys).union(known.keys).sorted() where onDisk[path] != known[path]?.fingerprint {
                results.append(await replace(file: path, fingerprint: onDisk[path]))
            }
            return results
        }
        if !results.isEmpty { changed() }
        return results
    }

    /// Blue/green for one file: start the new build beside the old, freeze the old (callers wait),
    /// hand its state over, swap, then retire the old generation. Any failure before the swap
    /// leaves the old generation serving.
    private func replace(file: String, fingerprint: PluginFingerprint?) async -> ReloadResult {
        let current = state.withLock { s in s.files[file]?.pluginID.flatMap { s.plugins[$0] } }
        guard let fingerprint else {
            // Removed from the folder: unload.
            state.withLock { s in
                s.files[file] = nil
                if let id = current?.info.id { s.plugins[id] = nil }
            }
            guard let current else { return ReloadResult(file: file, pluginID: nil, outcome: "unloaded", generation: nil, error: nil) }
            await current.slot.freeze()
            let old = await current.slot.current
            await current.slot.retire()
            await old.shutdown()
            logger.info("plugins: unloaded \(current.info.id) (its file \(file) is gone)")
            return ReloadResult(file: file, pluginID: current.info.id, outcome: "unloaded", generation: nil, error: nil)
        }
        guard let current else {
            await load(path: file, fingerprint: fingerprint)
            let record = state.withLock { $0.files[file] }
            let id = record?.pluginID
            return ReloadResult(file: file, pluginID: id, outcome: id == nil ? "failed" : "loaded",
                                generation: id.flatMap { i in state.withLock { $0.plugins[i]?.generation } },
                                error: record?.rejection?.description)
        }
        let id = current.info.id
        func failed(_ r: PluginRejection) -> ReloadResult {
            state.withLock { $0.files[file]?.fingerprint = fingerprint; $0.files[file]?.rejection = r }
            logger.error("plugins: reload of \(id) failed, generation \(current.generation) keeps serving: \(r)")
            return ReloadResult(file: file, pluginID: id, outcome: "failed", generation: current.generation, error: r.description)
        }
        let next: PluginGeneration
        do { next = try await startGeneration(path: file) } catch { return failed(error) }
        guard next.info.id == id else {
            await next.shutdown()
            return failed(.invalidID(path: file, id: "\(next.info.id) (the file used to provide \(id); remove and re-add it to change ids)"))
        }
        await current.slot.freeze()
        let old = await current.slot.current
        do {
            if old.executor.isHung {
                // A stuck generation cannot save; replacing it is the way out, without its state.
                logger.warning("plugins: \(id) generation \(old.number) is not responding; reloading without handing its state over")
            } else if next.offersState, let blob = try await old.saveState() {
                try await next.loadState(version: blob.version, bytes: blob.bytes)
            }
        } catch {
            await current.slot.thaw(serving: nil)
            await next.shutdown()
            return failed(error)
        }
        var updated = await describe(next, slot: current.slot, file: file)
        updated.generation = next.number
        await current.slot.thaw(serving: next)
        state.withLock {
            $0.plugins[id] = updated
            $0.files[file] = FileRecord(fingerprint: fingerprint, pluginID: id, rejection: nil)
        }
        logger.info("plugins: reloaded \(id) \(next.info.version): generation \(old.number) -> \(next.number)")
        await old.shutdown()
        return ReloadResult(file: file, pluginID: id, outcome: "reloaded", generation: next.number, error: nil)
    }

    /// Destroys every instance (daemon shutdown).
    public func unloadAll() async {
        await serial.run {
            let all = state.withLock { s in defer { s.plugins.removeAll() }; return Array(s.plugins.values) }
            for p in all {
                await p.slot.freeze()
                await p.slot.retire()
                await (await p.slot.current).shutdown()
            }
        }
    }

    /// Asks every speaker driver again which speakers it has (drivers find speakers over time).
    func refreshSpeakers() async {
        let loaded = state.withLock { $0.plugins.map { ($0.key, $0.value.slot) } }
        var changedAny = false
        for (id, slot) in loaded {
            let speakers = await slot.with(unloaded: nil as [SpeakerInfo]?) { g in g.extensions.contains(SB_EXT_SPEAKER) ? await g.speakers() : nil }
            guard let speakers else { continue }
            let changed = state.withLock { s -> Bool in
                guard s.plugins[id] != nil, s.plugins[id]!.speakers != speakers else { return false }
                s.plugins[id]!.speakers = speakers
                return true
            }
            changedAny = changedAny || changed
        }
        if changedAny { changed() }
    }

    // MARK: calls

    /// Calls a typed command of plugin `id` with JSON arguments.
    public func invoke(plugin id: String, command: String, arguments: [String: JSONValue]) async -> (CommandOutcome, generation: Int?) {
        guard let slot = state.withLock({ $0.plugins[id]?.slot }) else {
            let known = state.withLock { $0.plugins.keys.sorted() }.joined(separator: ", ")
            return (.error("no plugin with id \(id) is loaded" + (known.isEmpty ? "" : "; loaded: \(known)")), nil)
        }
        return await slot.with(unloaded: (.error("plugin \(id) was unloaded"), nil)) { g in
            (await g.invoke(command, arguments: arguments), g.number)
        }
    }

    /// `<base>/<speaker>/set`: `{"command":"volume", …}` for the plugin that drives `speaker`
    /// (matched by id or, ignoring case, by name); its id goes in as the `speaker` argument.
    public func speakerCommand(speaker: String, fields: [String: JSONValue]) async -> (CommandOutcome, generation: Int?) {
        let find = { [self] in
            self.state.withLock { s -> (String, SpeakerInfo)? in
                for (id, p) in s.plugins.sorted(by: { $0.key < $1.key }) {
                    if let sp = p.speakers.first(where: { $0.id == speaker || $0.name.lowercased() == speaker.lowercased() }) { return (id, sp) }
                }
                return nil
            }
        }
        var match = find()
        if match == nil {
            // Maybe found by its driver since the last refresh.
            await refreshSpeakers()
            match = find()
        }
        guard let (pluginID, info) = match else { return (.error("unknown speaker '\(speaker)'"), nil) }
        guard case .string(let command)? = fields["command"] else {
            return (.error("a speaker command needs \"command\": the name of the command to run"), nil)
        }
        var args = fields
        args["command"] = nil
        args["speaker"] = .string(info.id)
        return await invoke(plugin: pluginID, command: command, arguments: args)
    }

    /// Plays a clip on a speaker (by id or name) through its plugin, waiting for the end.
    /// `onStarted` learns the operation id (for `cancel`).
    public func play(speaker: String, clip: SpeakerClip, onStarted: @escaping @Sendable (UInt64) -> Void = { _ in })
        async -> (CommandOutcome, generation: Int?)
    {
        guard let (slot, info) = speakerSlot(speaker) else { return (.error("unknown speaker '\(speaker)'"), nil) }
        let operations = self.operations, timeout = settings.operationTimeout
        return await slot.with(unloaded: (.error("the driver of \(speaker) was unloaded"), nil)) { g in
            (await g.playClip(speakerID: info.id, clip: clip, operations: operations, timeout: timeout, onStarted: onStarted), g.number)
        }
    }

    /// Stops a playing operation on `speaker` early (an interrupting announcement).
    public func cancel(speaker: String, operation: UInt64) async {
        guard let (slot, _) = speakerSlot(speaker) else { return }
        // Not through the gate: a reload waiting for this very clip to end must not make the cut wait.
        await slot.current.cancel(operation: operation)
    }

    private func speakerSlot(_ speaker: String) -> (PluginSlot, SpeakerInfo)? {
        state.withLock { s in
            for (_, p) in s.plugins.sorted(by: { $0.key < $1.key }) {
                if let sp = p.speakers.first(where: { $0.id == speaker || $0.name.lowercased() == speaker.lowercased() }) { return (p.slot, sp) }
            }
            return nil
        }
    }

    /// The TTS engine: the first loaded plugin (by id) that offers the TTS extension.
    private var ttsSlot: PluginSlot? {
        state.withLock { s in
            s.plugins.sorted { $0.key < $1.key }.first { $0.value.extensions.contains(SB_EXT_TTS) }?.value.slot
        }
    }

    public func voices() async -> CommandOutcome {
        guard let slot = ttsSlot else { return .error("no TTS plugin is loaded") }
        return await slot.with(unloaded: .error("the TTS plugin was unloaded")) { await $0.voices() }
    }

    /// Speech from the TTS engine.
    public func synthesize(_ request: TTSRequest) async -> (CommandOutcome, generation: Int?) {
        guard let slot = ttsSlot else { return (.error("no TTS plugin is loaded"), nil) }
        let operations = self.operations, timeout = settings.operationTimeout
        return await slot.with(unloaded: (.error("the TTS plugin was unloaded"), nil)) { g in
            (await g.synthesize(request, operations: operations, timeout: timeout), g.number)
        }
    }

    // MARK: reporting

    public var speakers: [SpeakerInfo] { state.withLock { $0.plugins.values.flatMap(\.speakers) } }

    /// The `plugins` part of bridge/info and of `plugins list`.
    public var infoJSON: JSONValue {
        state.withLock { s in
            let plugins: [JSONValue] = s.plugins.values.sorted { $0.info.id < $1.info.id }.map { p in
                [
                    "id": .string(p.info.id), "name": .string(p.info.name), "version": .string(p.info.version),
                    "vendor": .string(p.info.vendor), "generation": .number(Double(p.generation)), "file": .string(p.file),
                    "abi": .string("\(p.info.abiMajor).\(p.info.abiMinor)"),
                    "extensions": .array(p.extensions.map { .string($0) }),
                    "speakers": .array(p.speakers.map { ["id": .string($0.id), "name": .string($0.name)] }),
                    "commands": .array(p.commands.map { ["name": .string($0.name), "signature": .string($0.signature)] }),
                ]
            }
            let rejected: [JSONValue] = s.files.sorted { $0.key < $1.key }.compactMap { path, record in
                guard let r = record.rejection else { return nil }
                return ["file": .string(path), "error": .string(r.description), "serving_older_generation": .bool(record.pluginID != nil)]
            }
            return ["loaded": .array(plugins), "rejected": .array(rejected)]
        }
    }
}

/// What the folder watcher compares for one plugin: its library and its settings file (nil when
/// there is none), so editing, creating or deleting `NAME.json` reloads the plugin like a new build.
struct PluginFingerprint: Sendable, Equatable {
    let library: FileFingerprint
    let settings: FileFingerprint?
}

/// Identity of a file's content as far as the folder watcher cares.
struct FileFingerprint: Sendable, Equatable {
    let inode: UInt64
    let size: Int64
    let modified: Double

    init?(path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        inode = UInt64(st.st_ino)
        size = Int64(st.st_size)
        modified = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
    }
}

/// Runs async jobs one at a time, in arrival order.
actor SerialGate {
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func run<T: Sendable>(_ body: @Sendable () async -> T) async -> T {
        while busy { await withCheckedContinuation { waiters.append($0) } }
        busy = true
        defer {
            busy = false
            if !waiters.isEmpty { waiters.removeFirst().resume() }
        }
        return await body()
    }
}
