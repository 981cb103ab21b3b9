import Foundation
import Synchronization

/// What `bridge/info` says about discovery (`"homeassistant": {"enabled","prefix","configs",
/// "birth_seen"}`), which `speakerbridge doctor` reads.
public final class HomeAssistantStatus: Sendable {
    private struct State {
        var configs = 0
        var birthSeen: Date?
    }

    public let enabled: Bool
    public let prefix: String
    private let state = Mutex(State())

    public init(enabled: Bool, prefix: String) {
        self.enabled = enabled
        self.prefix = prefix
    }

    public var configs: Int { state.withLock { $0.configs } }
    public var birthSeen: Date? { state.withLock { $0.birthSeen } }

    /// true when the count changed.
    func setConfigs(_ n: Int) -> Bool { state.withLock { s in defer { s.configs = n }; return s.configs != n } }
    func sawBirth(at date: Date) { state.withLock { $0.birthSeen = date } }

    public var json: JSONValue {
        let s = state.withLock { $0 }
        return ["enabled": .bool(enabled), "prefix": .string(prefix), "configs": .number(Double(s.configs)),
                "birth_seen": s.birthSeen.map { .timestamp($0) } ?? .null]
    }
}
