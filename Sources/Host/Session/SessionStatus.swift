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
    public var broker = ""
    public var clientID = ""
    public var protocolVersion = Configuration.ProtocolVersion.v5
    public var sessionResumed = false

    public var twinWarning: String? {
        twinSuspected
            ? "another client is using our client id \(clientID): the broker keeps closing our connection right after it is made; stop the other instance or give one of them another client id"
            : nil
    }
}

/// Shared, thread-safe home of the status: written by the session thread, read by request handlers.
public final class SessionStatusBox: Sendable {
    private let value: Mutex<SessionStatus>
    public init(_ initial: SessionStatus) { value = Mutex(initial) }
    public var current: SessionStatus { value.withLock { $0 } }
    func update(_ body: (inout SessionStatus) -> Void) { value.withLock { body(&$0) } }
}
