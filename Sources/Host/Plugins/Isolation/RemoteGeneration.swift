import Foundation
import Logging
import PluginAPI

/// One generation of a plugin that runs isolated, in a plugin host process of its own: the daemon
/// never maps its file. Every entry point is one call over the process's socket (`PluginHostConnection`);
/// the host services it uses are served here (`RemoteServices`) through the same C tables, with this
/// generation's own `PluginHostContext`, so every rule is the same code in both modes.
final class RemoteGeneration: PluginInstance {
    let number: Int
    let info: PluginDescriptorInfo
    let commands: [String: TypedCommand]
    let extensions: [String]
    /// The daemon-side context: operations, routes, UDP and WebSocket of this instance, cancelled with it.
    let context: PluginHostContext
    let connection: PluginHostConnection
    let callTimeout: Double
    /// The copy of the plugin file the plugin host mapped (removed when this generation ends).
    let loadedPath: String
    /// Hears of an end nobody asked for, once `armCrashReport()` was called.
    private let onExit: @Sendable (PluginExit) -> Void

    var isolation: PluginIsolation { .process }
    var offersState: Bool { extensions.contains(SB_EXT_STATE) }
    var offersTTS: Bool { extensions.contains(SB_EXT_TTS) }
    var offersSpeakers: Bool { extensions.contains(SB_EXT_SPEAKER) }
    var isHung: Bool { connection.isHung }
    var hang: PluginExecutor.Hang? { connection.hang }
    /// The plugin host process.
    var pid: Int32 { connection.process.pid }
    /// Its resident memory in KiB; nil once it has ended.
    var residentKB: UInt64? { connection.process.residentKB }

    private init(number: Int, info: PluginDescriptorInfo, commands: [String: TypedCommand], extensions: [String],
                 context: PluginHostContext, connection: PluginHostConnection, callTimeout: Double, loadedPath: String,
                 onExit: @escaping @Sendable (PluginExit) -> Void) {
        self.loadedPath = loadedPath
        self.onExit = onExit
        self.number = number
        self.info = info
        self.commands = commands
        self.extensions = extensions
        self.context = context
        self.connection = connection
        self.callTimeout = callTimeout
    }

    /// How long the plugin host has to start and map the plugin (a busy machine starts a Swift
    /// binary in seconds, not milliseconds).
    static func openTimeout(callTimeout: Double) -> Double { max(10, 2 * callTimeout) }

    /// Starts the plugin host process, maps `source` there (copied to `loadAs`), creates the
    /// instance with `configJSON` and reads what it offers — as `PluginGeneration.start` does
    /// inline, with the same refusals. `onExit` hears once of an end nobody asked for, from
    /// `armCrashReport()` on.
    static func start(source: String, loadAs: String, number: Int, configJSON: String, callTimeout: Double,
                      limits: PluginProcess.Limits, logger: Logger, topics: Topics, publisher: any PluginPublisher,
                      operations: OperationTable, media: (any PluginMediaStore)?, network: PluginNetworkServices = .init(),
                      speakersChanged: @escaping @Sendable () -> Void = {}, metrics: DaemonMetrics? = nil,
                      onExit: @escaping @Sendable (PluginExit) -> Void) async throws(PluginRejection) -> RemoteGeneration {
        let name = ((source as NSString).lastPathComponent as NSString).deletingPathExtension
        let connection: PluginHostConnection
        do {
            connection = try PluginHostConnection(name: name, limits: limits, callTimeout: callTimeout, logger: logger)
        } catch {
            throw .notASharedObject(path: source, detail: "its plugin host process did not start: \(error)")
        }
        // Whatever goes wrong before the instance serves, the process goes (and its copy of the file).
        func abandon() async {
            await connection.stop(destroyTimeout: nil)
            unlink(loadAs)
        }

        let open = EntryPoint.OpenRequest(source: source, loadAs: loadAs).encode()
        let openTimeout = openTimeout(callTimeout: callTimeout)
        let descriptor: EntryPoint.Descriptor
        switch await connection.call("open", .open, open, timeout: openTimeout) {
        case .success(let bytes):
            switch Result(catching: { () throws(EntryPoint.DecodeError) in try EntryPoint.OpenReply(decoding: bytes) }) {
            case .success(let reply):
                switch reply.result {
                case .success(let d): descriptor = d
                case .failure(let refusal):
                    await abandon()
                    throw PluginRejection(refusal)
                }
            case .failure(let error):
                await abandon()
                throw .notASharedObject(path: source, detail: "its plugin host answered open with nonsense: \(error)")
            }
        case .failure(let failure):
            await abandon()
            if case .timedOut = failure { throw .hung(id: name, what: "open (in its plugin host process)", seconds: openTimeout) }
            throw .notASharedObject(path: source, detail: "its plugin host process failed: \(connection.describe(failure, what: "open"))")
        }

        let info = PluginDescriptorInfo(descriptor)
        let id = info.id
        let executor = PluginExecutor(label: "\(id).\(number)", timedOut: { metrics?.pluginCallTimedOut(plugin: id) })
        let context = PluginHostContext(pluginID: id, generation: number, logger: logger, topics: topics,
                                        publisher: publisher, executor: executor, operations: operations, media: media,
                                        network: network, settings: PluginSettings(json: configJSON),
                                        speakersChanged: speakersChanged)
        connection.attach(id: id, context: context, services: RemoteServices(channel: connection.channel, context: context),
                          metrics: metrics)

        let create = EntryPoint.CreateRequest(settingsJSON: configJSON, generation: number, callTimeout: callTimeout).encode()
        let created: EntryPoint.CreateReply
        switch await connection.call("create", .create, create) {
        case .success(let bytes):
            guard let reply = try? EntryPoint.CreateReply(decoding: bytes) else {
                await abandon()
                throw .createFailed(id: id, message: "its plugin host answered create with nonsense")
            }
            created = reply
        case .failure(.timedOut):
            await abandon()
            throw .hung(id: id, what: "create", seconds: callTimeout)
        case .failure(let failure):
            await abandon()
            throw .createFailed(id: id, message: connection.describe(failure, what: "create"))
        }
        guard created.status == SB_OK else {
            context.cancelAll(reason: "plugin \(id) generation \(number) was not created")
            await abandon()
            throw .createFailed(id: id, message: created.error.isEmpty ? "status \(created.status)" : created.error)
        }

        // The daemon binds arguments, so it checks the signatures itself (the plugin host checked
        // them too, and prepared its libffi calls).
        var commands: [String: TypedCommand] = [:]
        var problem: PluginRejection? = created.badCommand.map { .badCommand(id: id, command: $0.name, message: $0.message) }
        for c in created.commands where problem == nil {
            do {
                commands[c.name] = TypedCommand(name: c.name, signatureText: c.signature, description: c.description,
                                                signature: try CommandSignature.parse(c.signature))
            } catch {
                problem = .badCommand(id: id, command: c.name, message: "\(error)")
            }
        }
        let generation = RemoteGeneration(number: number, info: info, commands: commands, extensions: created.extensions,
                                          context: context, connection: connection, callTimeout: callTimeout, loadedPath: loadAs,
                                          onExit: onExit)
        if let problem {
            await generation.shutdown()
            throw problem
        }
        return generation
    }

    func armCrashReport() {
        connection.arm(onExit: onExit)
    }

    // MARK: teardown

    /// Cancels what this generation still plays, its daemon-side registrations, then asks the
    /// plugin host to destroy the instance and exit; it is killed if it does not. Bounded: a
    /// daemon stop must not wait for a plugin that does not answer — the cancels and `destroy`
    /// share `destroyBudget` (at least a second of it left for `destroy`), then 1 s to exit.
    func shutdown() async {
        let budget = min(callTimeout, RemoteGeneration.destroyBudget)
        let deadline = Date() + budget
        for operation in context.operations.pendingIDs(owner: ObjectIdentifier(context)) where !isHung && connection.endReason == nil {
            let left = deadline.timeIntervalSinceNow - 1
            guard left > 0.05 else { break }
            await cancel(operation: operation, within: left)
        }
        context.cancelAll(reason: "plugin \(info.id) generation \(number) was unloaded")
        await connection.stop(destroyTimeout: max(deadline.timeIntervalSinceNow, min(budget, 1)))
        unlink(loadedPath)
    }

    /// At most this long for `destroy` (and for each `cancel` before it) in a shutdown.
    static let destroyBudget = 3.0

    /// Callers waiting for an answer stop waiting (a daemon stop); the process is ended by `shutdown`.
    func abandonCalls() {
        connection.abandonCalls()
    }
}
