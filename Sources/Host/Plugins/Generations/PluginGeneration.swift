import Foundation
import Logging
import PluginAPI
import Synchronization

/// One generation of a loaded plugin: the library, its instance, the extensions it offers and
/// the executor every call goes through. Blue/green reloads keep two of these side by side.
final class PluginGeneration: PluginInstance, @unchecked Sendable {
    // @unchecked: `instance` and the extension tables are plugin pointers used only inside
    // `executor.call` blocks (the plugin's serial executor); everything else is immutable.
    let number: Int
    let library: PluginLibrary
    let context: PluginHostContext
    let commands: [String: TypedCommand]
    /// The libffi call interfaces of the commands, by name.
    let invokers: [String: CommandInvoker]
    let extensions: [String]
    let host: HostHandle
    let instance: OpaquePointer
    let speakerTable: UnsafePointer<sb_plugin_speaker>?
    let ttsTable: UnsafePointer<sb_plugin_tts>?
    let stateTable: UnsafePointer<sb_plugin_state>?
    let callTimeout: Double

    var info: PluginDescriptorInfo { library.info }
    var executor: PluginExecutor { context.executor }
    var offersState: Bool { stateTable != nil }
    var offersTTS: Bool { ttsTable != nil }
    var isolation: PluginIsolation { .inline }
    var isHung: Bool { executor.isHung }
    var hang: PluginExecutor.Hang? { executor.hang }
    func abandonCalls() { executor.abandonWaiting() }

    /// Everything of a plugin whose code may still be running after a missed deadline (create or
    /// destroy): the library stays mapped and the `sb_host` it holds stays valid, forever.
    static let stuck = Mutex<[any Sendable]>([])

    private init(number: Int, library: PluginLibrary, context: PluginHostContext, host: HostHandle, instance: OpaquePointer,
                 commands: [String: TypedCommand], invokers: [String: CommandInvoker], extensions: [String], speaker: UnsafePointer<sb_plugin_speaker>?,
                 tts: UnsafePointer<sb_plugin_tts>?, state: UnsafePointer<sb_plugin_state>?, callTimeout: Double) {
        self.number = number
        self.library = library
        self.context = context
        self.host = host
        self.instance = instance
        self.commands = commands
        self.invokers = invokers
        self.extensions = extensions
        speakerTable = speaker
        ttsTable = tts
        stateTable = state
        self.callTimeout = callTimeout
    }

    /// Creates the instance and reads its extensions, all on its own executor.
    static func start(library: PluginLibrary, number: Int, configJSON: String, callTimeout: Double, logger: Logger,
                      topics: Topics, publisher: any PluginPublisher, operations: OperationTable,
                      media: (any PluginMediaStore)?, network: PluginNetworkServices = .init(),
                      speakersChanged: @escaping @Sendable () -> Void = {},
                      metrics: DaemonMetrics? = nil) async throws(PluginRejection) -> PluginGeneration {
        let id = library.info.id
        let executor = PluginExecutor(label: "\(id).\(number)", timedOut: { metrics?.pluginCallTimedOut(plugin: id) },
                                      hangs: PluginHangLog.events(plugin: id, generation: number, logger: logger))
        let context = PluginHostContext(pluginID: id, generation: number, logger: logger, topics: topics,
                                        publisher: publisher, executor: executor, operations: operations, media: media,
                                        network: network, settings: PluginSettings(json: configJSON),
                                        speakersChanged: speakersChanged)
        let host = HostHandle(context: context)
        let d = Unchecked(library.descriptor)
        let h = Unchecked(host.pointer)
        struct Created: @unchecked Sendable {
            // @unchecked: plugin pointers produced on the executor and handed back once.
            var instance: OpaquePointer?
            var status: Int32
            var error: String
            var speaker: UnsafePointer<sb_plugin_speaker>?
            var tts: UnsafePointer<sb_plugin_tts>?
            var state: UnsafePointer<sb_plugin_state>?
            var commands: [(name: String, signature: String, description: String, function: UnsafeRawPointer?)]
            var extensions: [String]
        }
        let created: Created
        do {
            created = try await executor.call(timeout: callTimeout, what: "create") { () -> Created in
                var out = Created(instance: nil, status: 0, error: "", speaker: nil, tts: nil, state: nil, commands: [], extensions: [])
                var err = [CChar](repeating: 0, count: 1024)
                var inst: OpaquePointer? = nil
                out.status = configJSON.withCString { d.value.pointee.create(h.value, $0, &inst, &err, err.count) }
                out.error = String(decoding: err.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
                guard out.status == SB_OK, let inst else { return out }
                out.instance = inst
                let get = d.value.pointee.get_extension!
                for ext in [SB_EXT_SPEAKER, SB_EXT_TTS, SB_EXT_STATE, SB_EXT_COMMANDS] where get(inst, ext) != nil {
                    out.extensions.append(ext)
                }
                out.speaker = get(inst, SB_EXT_SPEAKER)?.assumingMemoryBound(to: sb_plugin_speaker.self)
                out.state = get(inst, SB_EXT_STATE)?.assumingMemoryBound(to: sb_plugin_state.self)
                out.tts = get(inst, SB_EXT_TTS)?.assumingMemoryBound(to: sb_plugin_tts.self)
                if let c = get(inst, SB_EXT_COMMANDS)?.assumingMemoryBound(to: sb_plugin_commands.self),
                   let count = c.pointee.count, let item = c.pointee.get {
                    for i in 0..<count(inst) {
                        guard let cmd = item(inst, i) else { continue }
                        func text(_ p: UnsafePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }
                        out.commands.append((text(cmd.pointee.name), text(cmd.pointee.signature), text(cmd.pointee.description),
                                             unsafeBitCast(cmd.pointee.function, to: UnsafeRawPointer?.self)))
                    }
                }
                return out
            }
        } catch {
            // `create` is still running with our host table and inside the library's code.
            stuck.withLock { $0.append(contentsOf: [library, host, context] as [any Sendable]) }
            throw .hung(id: id, what: "create", seconds: callTimeout)
        }
        guard created.status == SB_OK, let inst = created.instance else {
            throw .createFailed(id: id, message: created.error.isEmpty ? "status \(created.status)" : created.error)
        }
        var commands: [String: TypedCommand] = [:]
        var invokers: [String: CommandInvoker] = [:]
        var problem: PluginRejection? = nil
        for c in created.commands {
            do {
                guard let fn = c.function else { throw CommandSignature.SyntaxError(description: "no function") }
                let signature = try CommandSignature.parse(c.signature)
                invokers[c.name] = try CommandInvoker(signature: signature, function: fn)
                commands[c.name] = TypedCommand(name: c.name, signatureText: c.signature, description: c.description,
                                                signature: signature)
            } catch {
                problem = .badCommand(id: id, command: c.name, message: "\(error)")
                break
            }
        }
        let generation = PluginGeneration(number: number, library: library, context: context, host: host, instance: inst,
                                          commands: commands, invokers: invokers, extensions: created.extensions, speaker: created.speaker,
                                          tts: created.tts, state: created.state, callTimeout: callTimeout)
        if let problem {
            await generation.shutdown()
            throw problem
        }
        return generation
    }

    // MARK: teardown

    /// Cancels what this generation registered, then destroys the instance on its executor.
    func shutdown() async {
        // The header promises `destroy` only after every operation was completed or cancelled:
        // ask the plugin to stop what it still plays (a real speaker would go on otherwise).
        for operation in context.operations.pendingIDs(owner: ObjectIdentifier(context)) where !executor.isHung {
            await cancel(operation: operation)
        }
        context.cancelAll(reason: "plugin \(info.id) generation \(number) was unloaded")
        let d = Unchecked(library.descriptor), inst = Unchecked(instance)
        do {
            try await executor.call(timeout: callTimeout, what: "destroy") { d.value.pointee.destroy(inst.value) }
        } catch {
            context.logger.error("plugin \(info.id)#\(number): destroy did not return within \(callTimeout) s; its code stays loaded")
            PluginGeneration.stuck.withLock { $0.append(self) }
        }
    }
}
