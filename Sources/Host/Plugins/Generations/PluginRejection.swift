/// Why a plugin file was not loaded. Each reason has its own message, shown in the log, in
/// `bridge/info` and by `speakerbridge plugin check`.
public enum PluginRejection: Error, Sendable, Equatable, CustomStringConvertible {
    case notASharedObject(path: String, detail: String)
    case missingEntry(path: String)
    case nullDescriptor(path: String)
    case truncatedDescriptor(path: String, size: Int)
    case abiMajorMismatch(path: String, plugin: Int, host: Int)
    case abiMinorTooNew(path: String, plugin: Int, host: Int)
    case invalidID(path: String, id: String)
    case duplicateID(path: String, id: String, loadedFrom: String)
    case createFailed(id: String, message: String)
    case unsafeFile(path: String, reason: String)
    case stateHandoverFailed(id: String, message: String)
    case badCommand(id: String, command: String, message: String)
    case hung(id: String, what: String, seconds: Double)
    case badSettings(path: String, problem: String)

    public var description: String {
        switch self {
        case .notASharedObject(let path, let detail):
            return "\(path) is not a loadable shared object: \(detail)"
        case .missingEntry(let path):
            return "\(path) does not export \(PluginABI.entrySymbol)(): not a speakerbridge plugin, or built without SB_EXPORT"
        case .nullDescriptor(let path):
            return "\(path): \(PluginABI.entrySymbol)() returned NULL"
        case .truncatedDescriptor(let path, let size):
            return "\(path): descriptor struct_size \(size) is smaller than ABI 1.0's"
        case .abiMajorMismatch(let path, let plugin, let host):
            return "\(path) was built for plugin ABI \(plugin).x; this speakerbridge speaks ABI \(host).x: rebuild the plugin against this version's header"
        case .abiMinorTooNew(let path, let plugin, let host):
            return "\(path) needs plugin ABI 1.\(plugin); this speakerbridge has 1.\(host): upgrade speakerbridge or use an older build of the plugin"
        case .invalidID(let path, let id):
            return "\(path): plugin id \(String(reflecting: id)) is not a reverse-DNS id ([a-z0-9._-], e.g. org.example.speaker)"
        case .duplicateID(let path, let id, let loadedFrom):
            return "\(path): plugin id \(id) is already provided by \(loadedFrom); remove one of them"
        case .createFailed(let id, let message):
            return "\(id): create failed: \(message)"
        case .unsafeFile(let path, let reason):
            return "\(path) was not loaded: \(reason)"
        case .stateHandoverFailed(let id, let message):
            return "\(id): the new build refused the running build's state: \(message)"
        case .badCommand(let id, let command, let message):
            return "\(id): command \(command) has a bad signature: \(message)"
        case .hung(let id, let what, let seconds):
            return "\(id): \(what) did not return within \(seconds) s"
        case .badSettings(let path, let problem):
            return "settings file \(path): \(problem)"
        }
    }
}
