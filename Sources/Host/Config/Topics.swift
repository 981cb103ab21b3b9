/// The MQTT topic layout of the bridge under its base topic (the README's "MQTT contract").
public struct Topics: Sendable, Equatable {
    public let base: String

    public init(base: String) { self.base = base }

    public var bridgeState: String { "\(base)/bridge/state" }
    public var bridgeInfo: String { "\(base)/bridge/info" }
    public var announcementEvents: String { "\(base)/bridge/event/announcement" }
    public func request(_ name: String) -> String { "\(base)/bridge/request/\(name)" }
    public func response(_ name: String) -> String { "\(base)/bridge/response/\(name)" }
    public var speak: String { "\(base)/speak" }
    public func speak(_ speaker: String) -> String { "\(base)/\(speaker)/speak" }
    public func setResponse(_ speaker: String) -> String { "\(base)/\(speaker)/set/response" }
    /// Never subscribed: the session's liveness question (see SessionLoop.checkLiveness).
    var livenessProbe: String { "\(base)/bridge/liveness-probe" }

    public var subscriptions: [String] {
        ["\(base)/bridge/request/#", "\(base)/speak", "\(base)/+/speak", "\(base)/+/set"]
    }

    public enum Route: Sendable, Equatable {
        case bridgeRequest(name: String)
        case speak(speaker: String?)
        case speakerCommand(speaker: String)
        case unknown
    }

    public func route(_ topic: String) -> Route {
        guard topic.hasPrefix(base + "/") else { return .unknown }
        let rest = topic.dropFirst(base.count + 1)
        if rest == "speak" { return .speak(speaker: nil) }
        let requestPrefix = "bridge/request/"
        if rest.hasPrefix(requestPrefix) {
            let name = String(rest.dropFirst(requestPrefix.count))
            return name.isEmpty ? .unknown : .bridgeRequest(name: name)
        }
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0] != "bridge" else { return .unknown }
        switch parts[1] {
        case "speak": return .speak(speaker: String(parts[0]))
        case "set": return .speakerCommand(speaker: String(parts[0]))
        default: return .unknown
        }
    }
}
