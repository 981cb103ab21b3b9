import Foundation

/// Adds up the daemon's own `health` counters over a soak. They start from zero in every daemon
/// process, so a restart (seen as `uptime_s` going down) closes one process's tally and opens the
/// next; the soak asks for health right before it kills the daemon, so little is missed.
public struct SoakHealthTally: Sendable, Equatable {
    struct Snapshot: Sendable, Equatable {
        var uptime: Double
        var reconnects: Int
        var disconnects: [String: Int]
    }

    private var closedReconnects = 0
    private var closedDisconnects: [String: Int] = [:]
    private var current: Snapshot? = nil
    /// `last_disconnect` (name and time) of answers without a `disconnects` counter (older daemons).
    private var lastDisconnectsSeen: Set<String> = []
    private var fallbackDisconnects: [String: Int] = [:]
    public private(set) var processes = 0
    public private(set) var answers = 0

    public init() {}

    public mutating func health(_ data: JSONValue) {
        answers += 1
        let uptime = data["uptime_s"]?.numberValue ?? 0
        var disconnects: [String: Int] = [:]
        let hasCounter: Bool
        if case .object(let counts)? = data["disconnects"] {
            hasCounter = true
            for (name, n) in counts { disconnects[name] = Int(n.numberValue ?? 0) }
        } else {
            hasCounter = false
        }
        if !hasCounter, let last = data["last_disconnect"], let name = last["name"]?.stringValue,
           lastDisconnectsSeen.insert(name + "@" + (last["at"]?.stringValue ?? "")).inserted {
            fallbackDisconnects[name, default: 0] += 1
        }
        let snapshot = Snapshot(uptime: uptime, reconnects: Int(data["reconnects"]?.numberValue ?? 0), disconnects: disconnects)
        if let previous = current, uptime < previous.uptime {
            closedReconnects += previous.reconnects
            closedDisconnects.merge(previous.disconnects, uniquingKeysWith: +)
            processes += 1
        } else if current == nil {
            processes += 1
        }
        current = snapshot
    }

    public var reconnects: Int { closedReconnects + (current?.reconnects ?? 0) }

    /// Connections lost, by libmosquitto/MQTT reason name (`MOSQ_ERR_CONN_LOST` is rc 7).
    public var disconnects: [String: Int] {
        closedDisconnects.merging(current?.disconnects ?? [:], uniquingKeysWith: +)
            .merging(fallbackDisconnects, uniquingKeysWith: +)
    }
}
