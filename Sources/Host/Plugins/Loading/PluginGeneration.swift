import Foundation
import Logging
import PluginAPI
import Synchronization

/// One generation of a loaded plugin: the library, its instance, the extensions it offers and
/// the executor every call goes through. Blue/green reloads keep two of these side by side.
final class PluginGeneration: @unchecked Sendable {
    // @unchecked: `instance` and the extension tables are plugin pointers used only inside
    // `executor.call` blocks (the plugin's serial executor); everything else is immutable.
    let number: Int
    let library: PluginLibrary
    let context: PluginHostContext
    let commands: [String: TypedCommand]
    let extensions: [String]
    private let host: HostHandle
    private let instance: OpaquePointer
    private let speakerTable: UnsafePointer<sb_plugin_speaker>?
    private let ttsTable: UnsafePointer<sb_plugin_tts>?
    private let stateTable: UnsafePointer<sb_plugin_state>?
    private let callTimeout: Double

    var info: PluginDescriptorInfo { library.info }
    var executor: PluginExecutor { context.executor }
    var offersState: Bool { stateTable != nil }
    var offersTTS: Bool { ttsTable != nil }

    /// Everything of a plugin whose code may still be running after a missed deadline (create or
    /// destroy): the library stays mapped and the `sb_host` it holds stays valid, forever.
    private static let stuck = Mutex<[any Sendable]>([])

    private init(number: Int, library: PluginLibrary, context: PluginHostContext, host: HostHandle, instance: OpaquePointer,
                 commands: [String: TypedCommand], extensions: [String], speaker: UnsafePointer<sb_plugin_speaker>?,
                 tts: UnsafePointer<sb_plugin_tts>?, state: UnsafePointer<sb_plugin_state>?, callTimeout: Double) {
        self.number = number
        self.library = library
        self.context = context
        self.host = host
        self.instance = instance
        self.commands = commands
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
                      speakersChanged: @escaping @Sendable () -> Void = {}) async throws(PluginRejection) -> PluginGeneration {
        let id = library.info.id
        let executor = PluginExecutor(label: "\(id).\(number)")
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
            created = try await executor.call(timeout: callTimeout) { () -> Created in
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
        var problem: PluginRejection? = nil
        for c in created.commands {
            do {
                guard let fn = c.function else { throw CommandSignature.SyntaxError(description: "no function") }
                let signature = try CommandSignature.parse(c.signature)
                commands[c.name] = TypedCommand(name: c.name, signatureText: c.signature, description: c.description,
                                                signature: signature, invoker: try CommandInvoker(signature: signature, function: fn))
            } catch {
                problem = .badCommand(id: id, command: c.name, message: "\(error)")
                break
            }
        }
        let generation = PluginGeneration(number: number, library: library, context: context, host: host, instance: inst,
                                          commands: commands, extensions: created.extensions, speaker: created.speaker,
                                          tts: created.tts, state: created.state, callTimeout: callTimeout)
        if let problem {
            await generation.shutdown()
            throw problem
        }
        return generation
    }

    // MARK: calls

    func invoke(_ name: String, arguments: [String: JSONValue]) async -> CommandOutcome {
        guard let command = commands[name] else {
            let known = commands.keys.sorted().joined(separator: ", ")
            return .error("plugin \(info.id) has no command '\(name)'" + (known.isEmpty ? "" : "; its commands: \(known)"))
        }
        let bound: [BoundArgument]
        do { bound = try command.signature.bind(arguments) } catch { return .error("\(name): \(error.description)") }
        let inst = Unchecked(UnsafeMutableRawPointer(instance))
        do {
            let (status, reply) = try await executor.call(timeout: callTimeout) {
                command.invoker.call(instance: inst.value, arguments: bound)
            }
            guard status == SB_OK else {
                return .error(reply.isEmpty ? "\(name) failed with status \(status)" : reply)
            }
            if reply.isEmpty { return .ok(.null) }
            return .ok((try? JSONValue.parse(Array(reply.utf8))) ?? .string(reply))
        } catch {
            return .error(Self.describe(error, id: info.id, what: "command '\(name)'"))
        }
    }

    static func describe(_ error: PluginExecutor.CallError, id: String, what: String) -> String {
        switch error {
        case .timedOut(let s): return "plugin \(id) did not finish \(what) within \(s) s; it is reported as not responding"
        case .hung: return "plugin \(id) is not responding (an earlier call is still running); \(what) was not attempted"
        }
    }

    func speakers() async -> [SpeakerInfo] {
        guard let table = speakerTable else { return [] }
        let t = Unchecked(table), inst = Unchecked(instance)
        return (try? await executor.call(timeout: callTimeout) { () -> [SpeakerInfo] in
            guard let count = t.value.pointee.count, let get = t.value.pointee.get else { return [] }
            var result: [SpeakerInfo] = []
            for i in 0..<count(inst.value) {
                var s = sb_speaker_info()
                s.struct_size = UInt32(MemoryLayout<sb_speaker_info>.size)
                guard get(inst.value, i, &s), let id = s.id else { continue }
                result.append(SpeakerInfo(id: String(cString: id), name: s.name.map { String(cString: $0) } ?? String(cString: id),
                                          model: s.model.map { String(cString: $0) } ?? "", group: s.group.map { String(cString: $0) },
                                          address: s.address.map { String(cString: $0) }))
            }
            return result
        }) ?? []
    }

    /// Plays `clip` on `speakerID` and waits for the plugin to complete the operation (or for the
    /// operation deadline).
    func playClip(speakerID: String, clip: SpeakerClip, operations: OperationTable, timeout: Double,
                  onStarted: @escaping @Sendable (UInt64) -> Void = { _ in }) async -> CommandOutcome {
        guard let table = speakerTable, let play = table.pointee.play_clip else {
            return .error("plugin \(info.id) drives no speakers")
        }
        let inst = Unchecked(instance), playFn = Unchecked(play)
        return await runOperation("playing on \(speakerID)", operations: operations, timeout: timeout) { operationID, err in
            onStarted(operationID)
            var c = sb_clip()
            c.struct_size = UInt32(MemoryLayout<sb_clip>.size)
            c.duration_ms = clip.durationMs
            c.volume = clip.volume
            return clip.url.withCString { url in
                clip.mime.withCString { mime in
                    c.url = url
                    c.mime = mime
                    return speakerID.withCString { playFn.value(inst.value, $0, &c, operationID, err, 1024) }
                }
            }
        }
    }

    /// Asks the speaker driver to stop an operation early; it still completes (cancelled).
    func cancel(operation: UInt64) async {
        guard let table = speakerTable, let cancel = table.pointee.cancel else { return }
        let inst = Unchecked(instance), cancelFn = Unchecked(cancel)
        _ = try? await executor.call(timeout: callTimeout) { _ = cancelFn.value(inst.value, operation) }
    }

    /// The TTS engine's voices (a JSON array).
    func voices() async -> CommandOutcome {
        guard let table = ttsTable, let voices = table.pointee.voices else { return .error("plugin \(info.id) is not a TTS engine") }
        let inst = Unchecked(instance), fn = Unchecked(voices)
        do {
            let (status, text) = try await executor.call(timeout: callTimeout) { () -> (Int32, String) in
                var out = [CChar](repeating: 0, count: 65536)
                let st = fn.value(inst.value, &out, out.count)
                out[out.count - 1] = 0
                return (st, String(decoding: out.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
            guard status == SB_OK else { return .error(text.isEmpty ? "voices failed (status \(status))" : text) }
            return .ok((try? JSONValue.parse(Array(text.utf8))) ?? .string(text))
        } catch {
            return .error(PluginGeneration.describe(error, id: info.id, what: "voices"))
        }
    }

    /// Asks a TTS plugin for speech; the completion carries `{"url","duration_ms",…}`.
    func synthesize(_ request: TTSRequest, operations: OperationTable, timeout: Double) async -> CommandOutcome {
        guard let table = ttsTable, let synth = table.pointee.synthesize else {
            return .error("plugin \(info.id) is not a TTS engine")
        }
        let inst = Unchecked(instance), synthFn = Unchecked(synth)
        return await runOperation("synthesising speech", operations: operations, timeout: timeout) { operationID, err in
            var r = sb_tts_request()
            r.struct_size = UInt32(MemoryLayout<sb_tts_request>.size)
            r.rate = request.rate
            r.pitch = request.pitch
            r.ssml = request.ssml
            return request.text.withCString { text in
                func call(_ voice: UnsafePointer<CChar>?) -> Int32 {
                    r.text = text
                    r.voice = voice
                    return synthFn.value(inst.value, &r, operationID, err, 1024)
                }
                return request.voice.map { $0.withCString { call($0) } } ?? call(nil)
            }
        }
    }

    /// A long operation: `start` runs on the executor with the operation id and an error buffer
    /// of 1024 bytes and returns the plugin's status; the plugin completes it later through the host.
    private func runOperation(_ what: String, operations: OperationTable, timeout: Double,
                              _ start: @escaping @Sendable (UInt64, UnsafeMutablePointer<CChar>) -> Int32) async -> CommandOutcome {
        let executor = self.executor, callTimeout = self.callTimeout, id = info.id
        let outcome = await operations.run(owner: ObjectIdentifier(context), timeout: timeout) { operationID in
            Task {
                do throws(PluginExecutor.CallError) {
                    let (status, error) = try await executor.call(timeout: callTimeout) { () -> (Int32, String) in
                        var err = [CChar](repeating: 0, count: 1024)
                        let st = err.withUnsafeMutableBufferPointer { start(operationID, $0.baseAddress!) }
                        return (st, String(decoding: err.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self))
                    }
                    // A refused start owes no completion: finish the operation here.
                    if status != SB_OK {
                        operations.finish(operationID, .failed(status: status, reason: error.isEmpty ? "\(what) failed (status \(status))" : error))
                    }
                } catch {
                    operations.finish(operationID, .failed(status: SB_ERR_TIMEOUT, reason: PluginGeneration.describe(error, id: id, what: what)))
                }
            }
        }
        switch outcome {
        case .done(let detail):
            return .ok(detail.flatMap { try? JSONValue.parse(Array($0.utf8)) } ?? .null)
        case .timedOut(let seconds):
            context.logger.error("plugin \(id)#\(number): \(what) was never completed within \(seconds) s")
            return .error("plugin \(id) did not finish \(what) within \(seconds) s")
        case .failed(let status, let reason):
            return .error(reason ?? "\(what) failed (status \(status))")
        case .cancelled(let reason):
            return .error(reason ?? "\(what) failed (status \(SB_ERR_CANCELLED))")
        }
    }

    // MARK: state handover

    final class Blob: @unchecked Sendable {
        // @unchecked: filled on the plugin's executor during one `save` call, read after it returns.
        var bytes: [UInt8] = []
    }

    func saveState() async throws(PluginRejection) -> (version: UInt32, bytes: [UInt8])? {
        guard let table = stateTable, let save = table.pointee.save else { return nil }
        let blob = Blob(), inst = Unchecked(instance), version = table.pointee.blob_version
        let saveFn = Unchecked(save)
        let status: Int32
        do {
            status = try await executor.call(timeout: callTimeout) {
                saveFn.value(inst.value, { ctx, data, size in
                    guard let ctx, let data else { return }
                    Unmanaged<Blob>.fromOpaque(ctx).takeUnretainedValue().bytes
                        .append(contentsOf: UnsafeRawBufferPointer(start: data, count: size))
                }, Unmanaged.passUnretained(blob).toOpaque())
            }
        } catch { throw .hung(id: info.id, what: "save", seconds: callTimeout) }
        guard status == SB_OK else { throw .stateHandoverFailed(id: info.id, message: "the running build could not save its state (status \(status))") }
        return (version, blob.bytes)
    }

    func loadState(version: UInt32, bytes: [UInt8]) async throws(PluginRejection) {
        guard let table = stateTable, let load = table.pointee.load else { return }
        let inst = Unchecked(instance), loadFn = Unchecked(load)
        let result: (Int32, String)
        do {
            result = try await executor.call(timeout: callTimeout) {
                var err = [CChar](repeating: 0, count: 1024)
                let st = bytes.withUnsafeBytes { loadFn.value(inst.value, version, $0.baseAddress, $0.count, &err, err.count) }
                return (st, String(decoding: err.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
        } catch { throw .hung(id: info.id, what: "load", seconds: callTimeout) }
        guard result.0 == SB_OK else { throw .stateHandoverFailed(id: info.id, message: result.1.isEmpty ? "status \(result.0)" : result.1) }
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
            try await executor.call(timeout: callTimeout) { d.value.pointee.destroy(inst.value) }
        } catch {
            context.logger.error("plugin \(info.id)#\(number): destroy did not return within \(callTimeout) s; its code stays loaded")
            PluginGeneration.stuck.withLock { $0.append(self) }
        }
    }
}
