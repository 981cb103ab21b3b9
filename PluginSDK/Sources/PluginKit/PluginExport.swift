import Foundation
internal import PluginAPI
import Synchronization

/// The C side of a Swift plugin: the descriptor and capability tables, built once for the one
/// plugin type of the library, and the trampolines (`@convention(c)` closures without captures)
/// that find the Swift instance again behind `sb_instance *`.
public enum PluginExport {
    /// Registers `type` as this library's plugin and returns its descriptor
    /// (`const sb_plugin_descriptor *`). Call it from the exported entry point:
    ///
    ///     @_cdecl("speakerbridge_plugin_entry")
    ///     public func speakerbridgePluginEntry() -> UnsafeRawPointer {
    ///         PluginExport.descriptor(for: MyPlugin.self)
    ///     }
    ///
    /// The first call allocates the descriptor (a few hundred bytes, never freed: the host may
    /// read it any time while the library is mapped, and Swift libraries are never unmapped);
    /// later calls return the same pointer. One plugin type per library: registering a second
    /// type traps.
    public static func descriptor<P: SpeakerbridgePlugin>(for type: P.Type) -> UnsafeRawPointer {
        registration.withLock { r in
            if let r {
                precondition(ObjectIdentifier(r.type) == ObjectIdentifier(type),
                             "PluginKit: one plugin type per library (\(r.type) is registered, not \(type))")
                return UnsafeRawPointer(r.descriptor)
            }
            let new = Registration(type)
            r = new
            return UnsafeRawPointer(new.descriptor)
        }
    }

    /// The plugin behind an `sb_instance *` (in a command function), or nil.
    public static func plugin<P: SpeakerbridgePlugin>(_ instance: OpaquePointer?, as type: P.Type) -> P? {
        InstanceBox.from(instance)?.plugin as? P
    }

    /// The host services of the instance behind an `sb_instance *`.
    public static func host(_ instance: OpaquePointer?) -> PluginHost? {
        InstanceBox.from(instance)?.host
    }

    static var registered: Registration? { registration.withLock { $0 } }
}

private let registration = Mutex<Registration?>(nil)

/// Everything allocated for the registered type. Never freed.
final class Registration: @unchecked Sendable {
    // @unchecked: the tables are written once in init and afterwards only read (by the host);
    // `commands` is guarded by its Mutex.
    let type: any SpeakerbridgePlugin.Type
    let descriptor: UnsafeMutablePointer<sb_plugin_descriptor>
    let speakerTable: UnsafeMutablePointer<sb_plugin_speaker>
    let stateTable: UnsafeMutablePointer<sb_plugin_state>
    let commandsTable: UnsafeMutablePointer<sb_plugin_commands>
    private let commands = Mutex<(UnsafeMutablePointer<sb_command>, UInt32)?>(nil)

    init(_ type: any SpeakerbridgePlugin.Type) {
        self.type = type
        descriptor = .allocate(capacity: 1)
        descriptor.initialize(to: sb_plugin_descriptor(
            struct_size: UInt32(MemoryLayout<sb_plugin_descriptor>.size),
            abi_major: UInt16(SB_ABI_MAJOR), abi_minor: UInt16(SB_ABI_MINOR),
            id: strdup(type.id), name: strdup(type.name), version: strdup(type.version),
            vendor: strdup(type.vendor), description: strdup(type.summary),
            create: { host, config, out, err, errSize in Trampolines.create(host, config, out, err, errSize) },
            destroy: { instance in Trampolines.destroy(instance) },
            get_extension: { instance, id in Trampolines.extensionTable(instance, id) }))

        speakerTable = .allocate(capacity: 1)
        speakerTable.initialize(to: sb_plugin_speaker(
            struct_size: UInt32(MemoryLayout<sb_plugin_speaker>.size),
            count: { instance in InstanceBox.from(instance)?.refreshSpeakers() ?? 0 },
            get: { instance, index, out in InstanceBox.from(instance)?.speaker(at: index, into: out) ?? false },
            play_clip: { instance, speaker, clip, operation, err, errSize in
                Trampolines.playClip(instance, speaker, clip, operation, err, errSize)
            },
            cancel: { instance, operation in InstanceBox.from(instance)?.cancel(operation) ?? SB_ERR_INVALID }))

        stateTable = .allocate(capacity: 1)
        stateTable.initialize(to: sb_plugin_state(
            struct_size: UInt32(MemoryLayout<sb_plugin_state>.size),
            blob_version: (type as? any StatefulPlugin.Type)?.stateVersion ?? 0,
            save: { instance, write, context in Trampolines.saveState(instance, write, context) },
            load: { instance, version, data, size, err, errSize in
                Trampolines.loadState(instance, version, data, size, err, errSize)
            }))

        commandsTable = .allocate(capacity: 1)
        commandsTable.initialize(to: sb_plugin_commands(
            struct_size: UInt32(MemoryLayout<sb_plugin_commands>.size),
            count: { _ in PluginExport.registered?.commandList().count ?? 0 },
            get: { _, index in
                guard let list = PluginExport.registered?.commandList(), index < list.count else { return nil }
                return UnsafePointer(list.table + Int(index))
            }))
    }

    /// The `sb_command` array, built from `type.commands` the first time it is needed.
    func commandList() -> (table: UnsafeMutablePointer<sb_command>, count: UInt32) {
        commands.withLock { c in
            if let c { return c }
            let list = type.commands
            let table = UnsafeMutablePointer<sb_command>.allocate(capacity: max(list.count, 1))
            for (i, command) in list.enumerated() {
                (table + i).initialize(to: sb_command(
                    struct_size: UInt32(MemoryLayout<sb_command>.size),
                    name: strdup(command.name), signature: strdup(command.signature),
                    description: strdup(command.description),
                    function: unsafeBitCast(command.function, to: (@convention(c) () -> Void).self)))
            }
            c = (table, UInt32(list.count))
            return (table, UInt32(list.count))
        }
    }
}

/// The bodies of the descriptor's C functions. Nothing thrown gets past them.
enum Trampolines {
    static func create(_ host: UnsafePointer<sb_host>?, _ config: UnsafePointer<CChar>?,
                       _ out: UnsafeMutablePointer<OpaquePointer?>?, _ err: UnsafeMutablePointer<CChar>?,
                       _ errSize: Int) -> sb_status {
        guard let host, let out else {
            CString.write("create: no host or no place for the instance", to: err, size: errSize, truncating: true)
            return SB_ERR_INVALID
        }
        guard let registration = PluginExport.registered else {
            CString.write("PluginKit: no plugin type registered", to: err, size: errSize, truncating: true)
            return SB_ERR_FAILED
        }
        let pluginHost = PluginHost(host)
        if registration.type is any SpeakerDriver.Type && !pluginHost.offersOperations {
            pluginHost.invalidate()
            CString.write("the host offers no \(SB_HOST_EXT_OPERATIONS)", to: err, size: errSize, truncating: true)
            return SB_ERR_UNSUPPORTED
        }
        let json = Data((config.map { String(cString: $0) } ?? "{}").utf8)
        do {
            let plugin = try make(registration.type, host: pluginHost, json: json)
            let box = InstanceBox(plugin: plugin, host: pluginHost)
            out.pointee = OpaquePointer(Unmanaged.passRetained(box).toOpaque())
            return SB_OK
        } catch {
            pluginHost.invalidate()
            let (status, message) = PluginError.describe(error, decoding: "configuration")
            CString.write(message, to: err, size: errSize, truncating: true)
            return status == .ok ? SB_ERR_FAILED : status.rawValue
        }
    }

    private static func make<P: SpeakerbridgePlugin>(_ type: P.Type, host: PluginHost, json: Data) throws -> any SpeakerbridgePlugin {
        try P(host: host, configuration: try P.decodeConfiguration(json))
    }

    static func destroy(_ instance: OpaquePointer?) {
        guard let instance else { return }
        let unmanaged = Unmanaged<InstanceBox>.fromOpaque(UnsafeRawPointer(instance))
        unmanaged.takeUnretainedValue().tearDown()
        unmanaged.release()
    }

    static func extensionTable(_ instance: OpaquePointer?, _ id: UnsafePointer<CChar>?) -> UnsafeRawPointer? {
        guard let box = InstanceBox.from(instance), let id, let r = PluginExport.registered else { return nil }
        switch String(cString: id) {
        case SB_EXT_SPEAKER where box.plugin is any SpeakerDriver: return UnsafeRawPointer(r.speakerTable)
        case SB_EXT_STATE where box.plugin is any StatefulPlugin: return UnsafeRawPointer(r.stateTable)
        case SB_EXT_COMMANDS where r.commandList().count > 0: return UnsafeRawPointer(r.commandsTable)
        default: return nil
        }
    }

    static func playClip(_ instance: OpaquePointer?, _ speakerID: UnsafePointer<CChar>?, _ clip: UnsafePointer<sb_clip>?,
                         _ operation: UInt64, _ err: UnsafeMutablePointer<CChar>?, _ errSize: Int) -> sb_status {
        guard let box = InstanceBox.from(instance), let driver = box.plugin as? any SpeakerDriver else {
            CString.write("not a speaker driver", to: err, size: errSize, truncating: true)
            return SB_ERR_INVALID
        }
        guard let clip, clip.pointee.struct_size >= MemoryLayout<sb_clip>.size, let url = clip.pointee.url else {
            CString.write("invalid clip", to: err, size: errSize, truncating: true)
            return SB_ERR_INVALID
        }
        let id = speakerID.map { String(cString: $0) } ?? ""
        guard let speaker = driver.speakers.first(where: { $0.id == id }) else {
            CString.write("no speaker \(id)", to: err, size: errSize, truncating: true)
            return SB_ERR_NOT_FOUND
        }
        let c = clip.pointee
        let value = Clip(url: String(cString: url), mime: c.mime.map { String(cString: $0) } ?? "",
                         durationMs: c.duration_ms, volume: c.volume < 0 ? nil : c.volume)
        guard box.startPlay(driver, clip: value, on: speaker, operation: operation) else {
            CString.write("operation \(operation) is already running", to: err, size: errSize, truncating: true)
            return SB_ERR_BUSY
        }
        return SB_OK
    }

    static func saveState(_ instance: OpaquePointer?, _ write: sb_write_fn?, _ context: UnsafeMutableRawPointer?) -> sb_status {
        guard let box = InstanceBox.from(instance), let plugin = box.plugin as? any StatefulPlugin, let write else {
            return SB_ERR_INVALID
        }
        do {
            let data = try plugin.saveState()
            data.withUnsafeBytes { if let base = $0.baseAddress, $0.count > 0 { write(context, base, $0.count) } }
            return SB_OK
        } catch {
            let (status, message) = PluginError.describe(error)
            box.host.log(.error, "saving the state failed: \(message)")
            return status == .ok ? SB_ERR_FAILED : status.rawValue
        }
    }

    static func loadState(_ instance: OpaquePointer?, _ version: UInt32, _ data: UnsafeRawPointer?, _ size: Int,
                          _ err: UnsafeMutablePointer<CChar>?, _ errSize: Int) -> sb_status {
        guard let box = InstanceBox.from(instance), let plugin = box.plugin as? any StatefulPlugin else {
            return SB_ERR_INVALID
        }
        do {
            try plugin.loadState(data.map { Data(bytes: $0, count: size) } ?? Data(), version: version)
            return SB_OK
        } catch {
            let (status, message) = PluginError.describe(error)
            CString.write(message, to: err, size: errSize, truncating: true)
            return status == .ok ? SB_ERR_FAILED : status.rawValue
        }
    }
}

/// What `sb_instance *` points to: a retained box of the Swift instance (released in destroy).
final class InstanceBox: Sendable {
    let plugin: any SpeakerbridgePlugin
    let host: PluginHost
    /// Operations started by `play`, until they complete (or are cancelled).
    private let operations = Mutex<[UInt64: Task<Void, Never>]>([:])
    /// C copies of the speakers, valid until the next `count`.
    private let speakerSnapshot = Mutex<SpeakerSnapshot?>(nil)

    init(plugin: any SpeakerbridgePlugin, host: PluginHost) {
        self.plugin = plugin
        self.host = host
    }

    static func from(_ instance: OpaquePointer?) -> InstanceBox? {
        guard let instance else { return nil }
        return Unmanaged<InstanceBox>.fromOpaque(UnsafeRawPointer(instance)).takeUnretainedValue()
    }

    // MARK: speakers

    func refreshSpeakers() -> UInt32 {
        let speakers = (plugin as? any SpeakerDriver)?.speakers ?? []
        let snapshot = SpeakerSnapshot(speakers)
        speakerSnapshot.withLock { $0 = snapshot }
        return UInt32(speakers.count)
    }

    func speaker(at index: UInt32, into out: UnsafeMutablePointer<sb_speaker_info>?) -> Bool {
        guard let out else { return false }
        let snapshot = speakerSnapshot.withLock { s in
            if s == nil { s = SpeakerSnapshot((plugin as? any SpeakerDriver)?.speakers ?? []) }
            return s!
        }
        return snapshot.write(Int(index), into: out)
    }

    // MARK: operations

    func startPlay(_ driver: any SpeakerDriver, clip: Clip, on speaker: Speaker, operation: UInt64) -> Bool {
        operations.withLock { running in
            guard running[operation] == nil else { return false }
            // Created under the lock: the task's own `finish` waits for it to be recorded.
            running[operation] = Task.detached { [self] in
                do {
                    try await driver.play(clip: clip, on: speaker)
                    finish(operation, .ok, nil)
                } catch {
                    let (status, message) = PluginError.describe(error)
                    finish(operation, status == .ok ? .failed : status, message)
                }
            }
            return true
        }
    }

    private func finish(_ operation: UInt64, _ status: PluginStatus, _ detail: String?) {
        guard operations.withLock({ $0.removeValue(forKey: operation) }) != nil else { return }
        host.complete(operation: operation, status: status, detail: detail)
    }

    func cancel(_ operation: UInt64) -> sb_status {
        guard let task = operations.withLock({ $0.removeValue(forKey: operation) }) else { return SB_ERR_NOT_FOUND }
        task.cancel()
        host.complete(operation: operation, status: .cancelled, detail: "cancelled")
        return SB_OK
    }

    // MARK: destroy

    func tearDown() {
        // The host has already completed or failed every operation; only the tasks remain.
        for task in operations.withLock({ ops in defer { ops.removeAll() }; return Array(ops.values) }) { task.cancel() }
        plugin.shutdown()
        host.invalidate()
        speakerSnapshot.withLock { $0 = nil }
    }
}

/// `sb_speaker_info` strings owned by the plugin side.
private final class SpeakerSnapshot: @unchecked Sendable {
    // @unchecked: immutable after init; the strings are freed in deinit.
    private let strings: [(id: UnsafeMutablePointer<CChar>?, name: UnsafeMutablePointer<CChar>?,
                           model: UnsafeMutablePointer<CChar>?, group: UnsafeMutablePointer<CChar>?,
                           address: UnsafeMutablePointer<CChar>?)]

    init(_ speakers: [Speaker]) {
        strings = speakers.map {
            (strdup($0.id), strdup($0.name), strdup($0.model), $0.group.map { strdup($0) } ?? nil, $0.address.map { strdup($0) } ?? nil)
        }
    }

    deinit {
        for s in strings { free(s.id); free(s.name); free(s.model); free(s.group); free(s.address) }
    }

    /// Writes only the fields that fit in the host's `struct_size`.
    func write(_ index: Int, into out: UnsafeMutablePointer<sb_speaker_info>) -> Bool {
        guard index >= 0, index < strings.count else { return false }
        let size = Int(out.pointee.struct_size)
        let raw = UnsafeMutableRawPointer(out)
        func put(_ field: PartialKeyPath<sb_speaker_info>, _ value: UnsafeMutablePointer<CChar>?) {
            guard let offset = MemoryLayout<sb_speaker_info>.offset(of: field),
                  offset + MemoryLayout<UnsafePointer<CChar>?>.size <= size else { return }
            raw.storeBytes(of: UnsafePointer(value), toByteOffset: offset, as: UnsafePointer<CChar>?.self)
        }
        let s = strings[index]
        put(\sb_speaker_info.id, s.id)
        put(\sb_speaker_info.name, s.name)
        put(\sb_speaker_info.model, s.model)
        put(\sb_speaker_info.group, s.group)
        put(\sb_speaker_info.address, s.address)
        return true
    }
}
