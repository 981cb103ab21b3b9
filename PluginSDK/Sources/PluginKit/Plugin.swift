import Foundation

// PluginKit: write a speakerbridge plugin (speakerbridge_plugin.h, ABI 1.0) in Swift.
//
// A plugin is one type conforming to `SpeakerbridgePlugin` (plus `SpeakerDriver` and/or
// `StatefulPlugin` for those capabilities) and one exported entry point:
//
//     @_cdecl("speakerbridge_plugin_entry")
//     public func speakerbridgePluginEntry() -> UnsafeRawPointer {
//         PluginExport.descriptor(for: MyPlugin.self)
//     }
//
// PluginKit builds the C descriptor and tables, keeps the Swift instance behind `sb_instance *`,
// turns Swift errors into status codes (no Swift error ever crosses the C boundary) and runs
// `play` in a task, completing the host's operation when it returns or throws.

/// A status code of the plugin ABI (`SB_OK`, `SB_ERR_*`).
public struct PluginStatus: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let ok = PluginStatus(rawValue: 0)
    public static let invalid = PluginStatus(rawValue: -1)
    public static let unsupported = PluginStatus(rawValue: -2)
    public static let failed = PluginStatus(rawValue: -3)
    public static let timeout = PluginStatus(rawValue: -4)
    public static let notFound = PluginStatus(rawValue: -5)
    public static let busy = PluginStatus(rawValue: -6)
    public static let cancelled = PluginStatus(rawValue: -7)

    public var description: String {
        switch rawValue {
        case 0: "ok"
        case -1: "invalid"
        case -2: "unsupported"
        case -3: "failed"
        case -4: "timeout"
        case -5: "not found"
        case -6: "busy"
        case -7: "cancelled"
        default: "status \(rawValue)"
        }
    }
}

/// An error with the status the host should see. Any other error thrown by plugin code is reported
/// as `.failed` with its description; `CancellationError` as `.cancelled`; a configuration that
/// does not decode as `.invalid`.
public struct PluginError: Error, Sendable, CustomStringConvertible {
    public let status: PluginStatus
    public let message: String

    public init(_ status: PluginStatus, _ message: String) {
        self.status = status
        self.message = message
    }

    public static func invalid(_ message: String) -> PluginError { PluginError(.invalid, message) }
    public static func unsupported(_ message: String) -> PluginError { PluginError(.unsupported, message) }
    public static func failed(_ message: String) -> PluginError { PluginError(.failed, message) }
    public static func notFound(_ message: String) -> PluginError { PluginError(.notFound, message) }
    public static func busy(_ message: String) -> PluginError { PluginError(.busy, message) }

    public var description: String { message }

    /// The status and reason text the ABI carries for `error`.
    /// `subject` names what a `DecodingError` was decoding ("configuration" in create).
    static func describe(_ error: any Error, decoding subject: String = "JSON") -> (status: PluginStatus, message: String) {
        switch error {
        case let e as PluginError:
            return (e.status == .ok ? .failed : e.status, e.message)
        case is CancellationError:
            return (.cancelled, "cancelled")
        case let e as DecodingError:
            return (.invalid, describe(decoding: e, subject))
        default:
            return (.failed, String(describing: error))
        }
    }

    private static func describe(decoding error: DecodingError, _ subject: String) -> String {
        func at(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return keys.isEmpty ? "" : " \"\(keys.joined(separator: "."))\":"
        }
        switch error {
        case .keyNotFound(let key, let c):
            return "\(subject):\(at(c)) \"\(key.stringValue)\" is required"
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            return "\(subject):\(at(c)) \(c.debugDescription)"
        @unknown default:
            return "\(subject): \(error)"
        }
    }
}

/// The configuration of a plugin that takes none: decodes from any JSON object and ignores it.
public struct NoConfiguration: Decodable, Sendable {
    public init() {}
    public init(from decoder: any Decoder) throws {}
}

/// A plugin. The type is registered with `PluginExport.descriptor(for:)`; the host creates one
/// instance per configured plugin (two side by side for a moment during a hot reload).
///
/// Threading: the host calls `init`, the `SpeakerDriver`/`StatefulPlugin` members, command
/// functions and timer handlers one at a time on the instance's serial executor, and expects them
/// to return at once (never block). `play` runs in a task on Swift's global executor, concurrently
/// with those calls — hence `Sendable`: keep mutable state in a `Mutex` (Synchronization) or use
/// only immutable state.
public protocol SpeakerbridgePlugin: AnyObject, Sendable {
    /// Decoded from the plugin's section of the daemon configuration (a JSON object, `{}` when
    /// there is none). Any `Decodable` type works, and so does `[String: Any]`.
    associatedtype Configuration = NoConfiguration

    /// Reverse-DNS id, unique among plugins: [a-z0-9] first, then [a-z0-9._-].
    static var id: String { get }
    static var name: String { get }
    static var version: String { get }
    static var vendor: String { get }
    /// The descriptor's `description`.
    static var summary: String { get }
    /// Typed commands (see `Command`). Read once, the first time the host asks for them.
    static var commands: [Command] { get }

    /// Turns the configuration JSON into `Configuration`. Provided for `Decodable` types and for
    /// `[String: Any]`.
    static func decodeConfiguration(_ json: Data) throws -> Configuration

    /// Creates an instance. Throw `PluginError` (or any error) to refuse the configuration.
    init(host: PluginHost, configuration: Configuration) throws

    /// Called on the executor right before the instance is freed. Tasks of unfinished `play` calls
    /// have been cancelled; after this returns, the host services do nothing.
    func shutdown()
}

extension SpeakerbridgePlugin {
    public static var vendor: String { "" }
    public static var summary: String { "" }
    public static var commands: [Command] { [] }
    public func shutdown() {}
}

extension SpeakerbridgePlugin where Configuration: Decodable {
    public static func decodeConfiguration(_ json: Data) throws -> Configuration {
        try JSONDecoder().decode(Configuration.self, from: json)
    }
}

extension SpeakerbridgePlugin where Configuration == [String: Any] {
    public static func decodeConfiguration(_ json: Data) throws -> Configuration {
        guard let object = try JSONSerialization.jsonObject(with: json) as? [String: Any] else {
            throw PluginError.invalid("configuration: must be a JSON object")
        }
        return object
    }
}

/// A speaker as the host sees it.
public struct Speaker: Sendable, Hashable {
    /// Stable: a UUID, a serial number. Used in MQTT topics, so no '/', '+', '#'.
    public var id: String
    /// The room: "Kitchen".
    public var name: String
    public var model: String
    public var group: String?
    /// The IP address the speaker fetches clips from, if known.
    public var address: String?

    public init(id: String, name: String, model: String = "", group: String? = nil, address: String? = nil) {
        self.id = id
        self.name = name
        self.model = model
        self.group = group
        self.address = address
    }
}

/// A clip to play, copied out of the host's `sb_clip`.
public struct Clip: Sendable, Hashable {
    /// Served by the host's media store.
    public var url: String
    /// "audio/wav", "audio/mpeg"; empty when the host did not say.
    public var mime: String
    /// 0 when unknown.
    public var durationMs: UInt32
    /// 0...100, or nil to keep the speaker's volume.
    public var volume: Int32?

    public init(url: String, mime: String = "", durationMs: UInt32 = 0, volume: Int32? = nil) {
        self.url = url
        self.mime = mime
        self.durationMs = durationMs
        self.volume = volume
    }
}

/// The speaker capability (`speakerbridge.speaker/1`).
public protocol SpeakerDriver: SpeakerbridgePlugin {
    /// The speakers this instance drives right now. Read on the executor.
    var speakers: [Speaker] { get }

    /// Plays `clip` until it ends. PluginKit calls this in a task and returns to the host at once;
    /// the operation completes with `.ok` when this returns, and with the error's status when it
    /// throws. When the host cancels the operation, the task is cancelled and the operation is
    /// completed with `.cancelled` right away (whatever the task does afterwards is ignored).
    /// An unknown speaker id never gets here: the host is answered `.notFound` synchronously.
    func play(clip: Clip, on speaker: Speaker) async throws
}

/// State handed from one build to the next on hot reload (`speakerbridge.state/1`).
public protocol StatefulPlugin: SpeakerbridgePlugin {
    /// The format version of the blob this build writes and reads.
    static var stateVersion: UInt32 { get }
    /// Called on the old build's instance, on its executor.
    func saveState() throws -> Data
    /// Called on the new build's fresh instance before it serves anything. Throw for a version
    /// this build cannot read (or migrate it).
    func loadState(_ data: Data, version: UInt32) throws
}
