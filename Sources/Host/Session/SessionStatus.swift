import Foundation
import Synchronization

/// What the session tells the rest of the daemon about itself (health, bridge/info, logs).
public struct SessionStatus: Sendable, Equatable {
    public var connected = false
    /// Start of the current connection, or of the current outage.
    public var since = Date()
    public var reconnects = 0
    public var connectAttempts = 0
    public var lastDisconnect: DisconnectReason? = nil
    public var lastDisconnectAt: Date? = nil
    /// Connections lost, by reason name (`MOSQ_ERR_CONN_LOST` is rc 7): what a soak test reports.
    public var disconnects: [String: Int] = [:]
    public var twinSuspected = false
    /// The broker of the current connection, or the one being tried (`host:port`).
    public var broker = ""
    /// Every broker of the configuration, in the order they are tried.
    public var brokers: [String] = []
    public var clientID = ""
    /// The version spoken on the current connection (with `mqtt.protocol: auto`, what the broker took).
    public var protocolVersion = Configuration.ProtocolVersion.v5
    public var sessionResumed = false
    /// The last move from one broker to another, and why.
    public var lastFailover: Failover? = nil

    public struct Failover: Sendable, Equatable {
        public var from: String
        public var to: String
        public var reason: String
        public var at: Date
    }

    public var twinWarning: String? {
        twinSuspected
            ? "another client is using our client id \(clientID): the broker keeps closing our connection right after it is made; stop the other instance or give one of them another client id"
            : nil
    }
}

/// Shared, thread-safe home of the status: written by the session thread, read by request handlers.
public final class SessionStatusBox: Sendable {
    private let value: Mutex<SessionStatus>
    private let watchers = Mutex<[AsyncStream<Void>.Continuation]>([])
    public init(_ initial: SessionStatus) { value = Mutex(initial) }
    public var current: SessionStatus { value.withLock { $0 } }
    func update(_ body: (inout SessionStatus) -> Void) {
        value.withLock { body(&$0) }
        for watcher in watchers.withLock({ $0 }) { watcher.yield() }
    }

    /// Rings after changes (several in a row ring once), for whoever reports the status on
    /// (the service manager's STATUS line) without polling.
    public func changes() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        watchers.withLock { $0.append(continuation) }
        return stream
    }
}
