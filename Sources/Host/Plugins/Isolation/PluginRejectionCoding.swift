/// A plugin host's `open` answer in the generation layer's terms: the descriptor's info, or the
/// `PluginRejection` its `PluginLibrary` threw, case for case, so an isolated plugin that is refused
/// shows the same text in the log and in bridge/info as an inline one.
extension PluginDescriptorInfo {
    init(_ d: EntryPoint.Descriptor) {
        self.init(id: d.id, name: d.name, version: d.version, vendor: d.vendor, description: d.description,
                  abiMajor: d.abiMajor, abiMinor: d.abiMinor)
    }

    var onTheWire: EntryPoint.Descriptor {
        EntryPoint.Descriptor(id: id, name: name, version: version, vendor: vendor, description: description,
                              abiMajor: abiMajor, abiMinor: abiMinor)
    }
}

extension PluginRejection {
    var onTheWire: EntryPoint.Refusal {
        switch self {
        case .notASharedObject(let path, let detail): .init(kind: 1, texts: [path, detail], numbers: [])
        case .missingEntry(let path): .init(kind: 2, texts: [path], numbers: [])
        case .nullDescriptor(let path): .init(kind: 3, texts: [path], numbers: [])
        case .truncatedDescriptor(let path, let size): .init(kind: 4, texts: [path], numbers: [Double(size)])
        case .abiMajorMismatch(let path, let plugin, let host): .init(kind: 5, texts: [path], numbers: [Double(plugin), Double(host)])
        case .abiMinorTooNew(let path, let plugin, let host): .init(kind: 6, texts: [path], numbers: [Double(plugin), Double(host)])
        case .invalidID(let path, let id): .init(kind: 7, texts: [path, id], numbers: [])
        case .duplicateID(let path, let id, let loadedFrom): .init(kind: 8, texts: [path, id, loadedFrom], numbers: [])
        case .createFailed(let id, let message): .init(kind: 9, texts: [id, message], numbers: [])
        case .unsafeFile(let path, let reason): .init(kind: 10, texts: [path, reason], numbers: [])
        case .stateHandoverFailed(let id, let message): .init(kind: 11, texts: [id, message], numbers: [])
        case .badCommand(let id, let command, let message): .init(kind: 12, texts: [id, command, message], numbers: [])
        case .hung(let id, let what, let seconds): .init(kind: 13, texts: [id, what], numbers: [seconds])
        case .badSettings(let path, let problem): .init(kind: 14, texts: [path, problem], numbers: [])
        }
    }

    /// The refusal back; one the daemon cannot read (a plugin host of another build) still says what it can.
    init(_ r: EntryPoint.Refusal) {
        let t = r.texts + Array(repeating: "", count: 3), n = r.numbers + [0, 0]
        switch r.kind {
        case 1: self = .notASharedObject(path: t[0], detail: t[1])
        case 2: self = .missingEntry(path: t[0])
        case 3: self = .nullDescriptor(path: t[0])
        case 4: self = .truncatedDescriptor(path: t[0], size: Int(n[0]))
        case 5: self = .abiMajorMismatch(path: t[0], plugin: Int(n[0]), host: Int(n[1]))
        case 6: self = .abiMinorTooNew(path: t[0], plugin: Int(n[0]), host: Int(n[1]))
        case 7: self = .invalidID(path: t[0], id: t[1])
        case 8: self = .duplicateID(path: t[0], id: t[1], loadedFrom: t[2])
        case 9: self = .createFailed(id: t[0], message: t[1])
        case 10: self = .unsafeFile(path: t[0], reason: t[1])
        case 11: self = .stateHandoverFailed(id: t[0], message: t[1])
        case 12: self = .badCommand(id: t[0], command: t[1], message: t[2])
        case 13: self = .hung(id: t[0], what: t[1], seconds: n[0])
        case 14: self = .badSettings(path: t[0], problem: t[1])
        default: self = .notASharedObject(path: t[0], detail: "the plugin host refused it (reason \(r.kind): \(r.texts.joined(separator: "; ")))")
        }
    }
}
