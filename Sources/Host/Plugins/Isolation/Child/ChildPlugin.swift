import Foundation
import PluginAPI
import Synchronization

/// The one plugin instance of a plugin host process, and the entry points the daemon calls on it:
/// each runs on the instance's serial executor (as inline), and is answered when the plugin's
/// function returned. `open` and `create` build it up; `destroy` ends the process.
final class ChildPlugin: @unchecked Sendable {
    // @unchecked: `library`, `instance`, the extension tables and `invokers` are written only by
    // `open` and `create` and read only by the other entry points, and every entry point runs on
    // `executor`, a serial queue: no two touch them at once, and the queue orders each write before
    // the later reads. `services`, which the reader thread reads too, is behind a Mutex.
    let channel: PluginChannel
    let executor: PluginExecutor
    let name: String
    let logLevel: Int32
    private var library: PluginLibrary?
    private var instance: OpaquePointer?
    private var speakerTable: UnsafePointer<sb_plugin_speaker>?
    private var ttsTable: UnsafePointer<sb_plugin_tts>?
    private var stateTable: UnsafePointer<sb_plugin_state>?
    private var invokers: [String: CommandInvoker] = [:]
    private let services = Mutex<ChildHostServices?>(nil)

    init(channel: PluginChannel, name: String, logLevel: Int32) {
        self.channel = channel
        self.name = name
        self.logLevel = logLevel
        executor = PluginExecutor(label: name)
    }

    // MARK: the reader thread

    func handleCall(_ call: PluginChannel.Message) {
        guard let method = WireMethod(rawValue: call.method) else { return answer(call, []) }
        switch method {
        case .ping:
            // On the reader thread, not the executor: it answers even while a call runs.
            answer(call, EntryPoint.PingReply(residentKB: ChildPlugin.residentKB()).encode())
        case .open, .create, .speakers, .playClip, .cancel, .synthesize, .voices, .command, .saveState, .loadState, .destroy:
            executor.async { [self] in
                let reply = run(method, call.payload)
                answer(call, reply)
                if method == .destroy { PluginHostMain.exitNow(0) }
            }
        default:
            if call.method >= 200, let services = services.withLock({ $0 }), services.handle(call, isCall: true) { return }
            answer(call, [])
        }
    }

    func handleNote(_ note: PluginChannel.Message) {
        if note.method >= 200, let services = services.withLock({ $0 }), services.handle(note, isCall: false) { return }
        note.fds.forEach { _ = close($0) }
    }

    private func answer(_ call: PluginChannel.Message, _ payload: [UInt8]) {
        if case .failure(let f) = channel.reply(to: call, payload) {
            // The daemon is gone: nothing to serve.
            log(SB_LOG_DEBUG, "cannot answer method \(call.method): \(f)")
        }
    }

    /// The plugin host's own messages: into the daemon's log once the services exist, to stderr
    /// (which the daemon reads too) before.
    func log(_ level: Int32, _ text: String) {
        guard level <= logLevel else { return }
        if let services = services.withLock({ $0 }) {
            services.log(level: level, "plugin host: \(text)")
        } else {
            FileHandle.standardError.write(Data("plugin host \(name): \(text)\n".utf8))
        }
    }

    // MARK: on the executor

    /// One entry point, decoded, run and encoded; an empty answer for a request it cannot read
    /// (the daemon reports that as a bad answer).
    private func run(_ method: WireMethod, _ payload: [UInt8]) -> [UInt8] {
        do throws(EntryPoint.DecodeError) {
            switch method {
            case .open: return open(try EntryPoint.OpenRequest(decoding: payload)).encode()
            case .create: return create(try EntryPoint.CreateRequest(decoding: payload)).encode()
            case .speakers: return EntryPoint.SpeakersReply(speakers()).encode()
            case .playClip: return playClip(try EntryPoint.PlayClipRequest(decoding: payload)).encode()
            case .cancel: return cancel(try EntryPoint.CancelRequest(decoding: payload)).encode()
            case .synthesize: return synthesize(try EntryPoint.SynthesizeRequest(decoding: payload)).encode()
            case .voices: return voices().encode()
            case .command: return command(try EntryPoint.CommandRequest(decoding: payload)).encode()
            case .saveState: return saveState().encode()
            case .loadState: return loadState(try EntryPoint.LoadStateRequest(decoding: payload)).encode()
            case .destroy:
                destroy()
                return []
            default: return []
            }
        } catch {
            log(SB_LOG_ERROR, "a \(method) request it cannot read: \(error)")
            return []
        }
    }

    private func open(_ request: EntryPoint.OpenRequest) -> EntryPoint.OpenReply {
        do throws(PluginRejection) {
            let library = try PluginLibrary(source: request.source, loadAs: request.loadAs)
            self.library = library
            // Mapped now, and nothing maps it again in this process: the copy goes at once, so a
            // crash (which skips every cleanup) leaves none behind in the cache folder.
            unlink(request.loadAs)
            return EntryPoint.OpenReply(.success(library.info.onTheWire))
        } catch {
            return EntryPoint.OpenReply(.failure(error.onTheWire))
        }
    }

    private func create(_ request: EntryPoint.CreateRequest) -> EntryPoint.CreateReply {
        guard let library, instance == nil else { return .init(status: SB_ERR_INVALID, error: "create before open, or twice") }
        let services = ChildHostServices(channel: channel, executor: executor, pluginID: library.info.id,
                                         generation: request.generation, settingsJSON: request.settingsJSON)
        self.services.withLock { $0 = services }
        let d = library.descriptor
        var err = [CChar](repeating: 0, count: 1024)
        var inst: OpaquePointer? = nil
        let status = request.settingsJSON.withCString { d.pointee.create(services.host, $0, &inst, &err, err.count) }
        err[err.count - 1] = 0
        let error = String(decoding: err.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard status == SB_OK, let inst else { return .init(status: status == SB_OK ? SB_ERR_FAILED : status, error: error) }
        instance = inst
        let get = d.pointee.get_extension!
        var extensions: [String] = []
        for ext in [SB_EXT_SPEAKER, SB_EXT_TTS, SB_EXT_STATE, SB_EXT_COMMANDS] where get(inst, ext) != nil {
            extensions.append(ext)
        }
        speakerTable = get(inst, SB_EXT_SPEAKER)?.assumingMemoryBound(to: sb_plugin_speaker.self)
        stateTable = get(inst, SB_EXT_STATE)?.assumingMemoryBound(to: sb_plugin_state.self)
        ttsTable = get(inst, SB_EXT_TTS)?.assumingMemoryBound(to: sb_plugin_tts.self)
        var commands: [EntryPoint.DeclaredCommand] = []
        var bad: (name: String, message: String)? = nil
        if let c = get(inst, SB_EXT_COMMANDS)?.assumingMemoryBound(to: sb_plugin_commands.self),
           let count = c.pointee.count, let item = c.pointee.get {
            for i in 0..<count(inst) {
                guard let cmd = item(inst, i) else { continue }
                func text(_ p: UnsafePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }
                let declared = EntryPoint.DeclaredCommand(name: text(cmd.pointee.name), signature: text(cmd.pointee.signature),
                                                          description: text(cmd.pointee.description))
                commands.append(declared)
                guard bad == nil else { continue }
                do {
                    guard let fn = unsafeBitCast(cmd.pointee.function, to: UnsafeRawPointer?.self) else {
                        throw CommandSignature.SyntaxError(description: "no function")
                    }
                    invokers[declared.name] = try CommandInvoker(signature: try CommandSignature.parse(declared.signature), function: fn)
                } catch {
                    bad = (declared.name, "\(error)")
                }
            }
        }
        log(SB_LOG_DEBUG, "created \(library.info.id) (pid \(getpid())): \(extensions.joined(separator: ", "))")
        return .init(status: SB_OK, error: "", extensions: extensions, commands: commands, badCommand: bad)
    }

    private func destroy() {
        services.withLock { $0 }?.cancelAll()
        guard let library, let instance else { return }
        library.descriptor.pointee.destroy(instance)
        self.instance = nil
    }

    // MARK: the calls a generation answers at once

    private func speakers() -> [SpeakerInfo] {
        guard let inst = instance, let t = speakerTable, let count = t.pointee.count, let get = t.pointee.get else { return [] }
        var result: [SpeakerInfo] = []
        for i in 0..<count(inst) {
            var s = sb_speaker_info()
            s.struct_size = UInt32(MemoryLayout<sb_speaker_info>.size)
            guard get(inst, i, &s), let id = s.id else { continue }
            result.append(SpeakerInfo(id: String(cString: id), name: s.name.map { String(cString: $0) } ?? String(cString: id),
                                      model: s.model.map { String(cString: $0) } ?? "", group: s.group.map { String(cString: $0) },
                                      address: s.address.map { String(cString: $0) }))
        }
        return result
    }

    private func voices() -> EntryPoint.StatusReply {
        guard let inst = instance, let voices = ttsTable?.pointee.voices else { return .init(status: SB_ERR_UNSUPPORTED, text: "not a TTS engine") }
        var out = [CChar](repeating: 0, count: 65536)
        let status = voices(inst, &out, out.count)
        out[out.count - 1] = 0
        return .init(status: status, text: String(decoding: out.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    private func command(_ request: EntryPoint.CommandRequest) -> EntryPoint.StatusReply {
        guard let inst = instance, let invoker = invokers[request.name] else {
            return .init(status: SB_ERR_INVALID, text: "plugin has no command '\(request.name)'")
        }
        // The daemon bound them against the same signature; a mismatch (another build of the
        // daemon) must not reach libffi, whose precondition would end the process.
        guard request.arguments.count == invoker.signature.parameters.count else {
            return .init(status: SB_ERR_INVALID, text: "\(request.name): \(request.arguments.count) arguments for \(invoker.signature.parameters.count) parameters")
        }
        let (status, reply) = invoker.call(instance: UnsafeMutableRawPointer(inst), arguments: request.arguments)
        return .init(status: status, text: reply)
    }

    // MARK: long operations

    private func playClip(_ request: EntryPoint.PlayClipRequest) -> EntryPoint.StatusReply {
        guard let inst = instance, let play = speakerTable?.pointee.play_clip else {
            return .init(status: SB_ERR_UNSUPPORTED, text: "the plugin drives no speakers")
        }
        var err = [CChar](repeating: 0, count: 1024)
        let status = request.clip.withCStruct { c in
            request.speakerID.withCString { play(inst, $0, c, request.operationID, &err, err.count) }
        }
        return .init(status: status, text: ChildPlugin.text(&err))
    }

    private func cancel(_ request: EntryPoint.CancelRequest) -> EntryPoint.StatusReply {
        guard let inst = instance, let cancel = speakerTable?.pointee.cancel else { return .init(status: SB_ERR_UNSUPPORTED) }
        return .init(status: cancel(inst, request.operationID))
    }

    private func synthesize(_ request: EntryPoint.SynthesizeRequest) -> EntryPoint.StatusReply {
        guard let inst = instance, let synthesize = ttsTable?.pointee.synthesize else {
            return .init(status: SB_ERR_UNSUPPORTED, text: "the plugin is not a TTS engine")
        }
        var speech = TTSRequest(text: request.text, voice: request.voice)
        (speech.rate, speech.pitch, speech.ssml) = (request.rate, request.pitch, request.ssml)
        var err = [CChar](repeating: 0, count: 1024)
        let status = speech.withCStruct { synthesize(inst, $0, request.operationID, &err, err.count) }
        return .init(status: status, text: ChildPlugin.text(&err))
    }

    // MARK: state handover

    /// Filled by the plugin's `save` through the writer, on the executor, during one call.
    private final class Blob {
        var bytes: [UInt8] = []
    }

    private func saveState() -> EntryPoint.SaveStateReply {
        guard let inst = instance, let table = stateTable, let save = table.pointee.save else {
            return .init(offered: false, status: SB_OK, version: 0, bytes: [])
        }
        let blob = Blob()
        let status = withExtendedLifetime(blob) {
            save(inst, { ctx, data, size in
                guard let ctx, let data else { return }
                Unmanaged<Blob>.fromOpaque(ctx).takeUnretainedValue().bytes.append(contentsOf: UnsafeRawBufferPointer(start: data, count: size))
            }, Unmanaged.passUnretained(blob).toOpaque())
        }
        return .init(offered: true, status: status, version: table.pointee.blob_version, bytes: blob.bytes)
    }

    private func loadState(_ request: EntryPoint.LoadStateRequest) -> EntryPoint.StatusReply {
        guard let inst = instance, let load = stateTable?.pointee.load else { return .init(status: SB_OK) }
        var err = [CChar](repeating: 0, count: 1024)
        let status = request.bytes.withUnsafeBytes { load(inst, request.version, $0.baseAddress, $0.count, &err, err.count) }
        return .init(status: status, text: ChildPlugin.text(&err))
    }

    // MARK: helpers

    /// An error buffer's text, up to its first NUL (its last byte forced to one).
    private static func text(_ buffer: inout [CChar]) -> String {
        buffer[buffer.count - 1] = 0
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func residentKB() -> UInt64 {
        PluginProcess.residentKB(of: getpid()) ?? 0
    }
}
