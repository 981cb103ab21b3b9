import Foundation

/// What the running daemon said when the doctor asked it over MQTT, gathered before the checks run
/// (the checks only read these; the asking is the command's job).
public struct DaemonAnswers: Sendable, Equatable {
    public enum Answer: Sendable, Equatable {
        case data(JSONValue)
        /// The daemon answered with `"status":"error"`.
        case error(String)
        case none
    }

    /// Why the daemon was not asked, e.g. the broker could not be reached; nil when it was.
    public var notAsked: String?
    /// The retained `<base>/bridge/state`, if the broker holds one.
    public var state: JSONValue?
    public var health: Answer = .none
    public var info: Answer = .none
    public var plugins: Answer = .none
    public var voices: Answer = .none

    public init(notAsked: String? = nil, state: JSONValue? = nil, health: Answer = .none, info: Answer = .none,
                plugins: Answer = .none, voices: Answer = .none) {
        self.notAsked = notAsked
        self.state = state
        self.health = health
        self.info = info
        self.plugins = plugins
        self.voices = voices
    }

    public var isAnswering: Bool {
        if case .data = health { return true }
        return false
    }

    var healthData: JSONValue? {
        if case .data(let d) = health { return d }
        return nil
    }

    /// For a check that needs the daemon: why there is nothing to look at.
    func silence(_ config: Configuration) -> String {
        if let notAsked { return "not checked: \(notAsked)" }
        return "not checked: the daemon does not answer on \(Topics(base: config.baseTopic).request("health"))"
    }
}
