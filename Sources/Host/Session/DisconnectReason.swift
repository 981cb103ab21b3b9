import CMosquitto
import Foundation

/// Why the session lost (or never got) its connection, in words an operator can act on.
public struct DisconnectReason: Sendable, Equatable {
    /// libmosquitto return code (`MOSQ_ERR_*`) or MQTT 5 reason code, as reported.
    public let code: Int
    /// Symbolic name, e.g. `MOSQ_ERR_CONN_LOST`.
    public let name: String
    /// What probably happened.
    public let explanation: String

    public init(code: Int, name: String, explanation: String) {
        self.code = code
        self.name = name
        self.explanation = explanation
    }

    /// From the `rc` of libmosquitto's on_disconnect: 0 means we asked for it, anything else is an error.
    static func fromLibrary(_ rc: Int32, protocolVersion: Configuration.ProtocolVersion) -> DisconnectReason {
        let text = String(cString: mosquitto_strerror(rc))
        switch Int(rc) {
        case Int(MOSQ_ERR_SUCCESS.rawValue):
            return .init(code: 0, name: "MOSQ_ERR_SUCCESS", explanation: "disconnected on request")
        case Int(MOSQ_ERR_CONN_LOST.rawValue):
            return .init(code: Int(rc), name: "MOSQ_ERR_CONN_LOST", explanation:
                "the broker or the network closed the TCP connection (\(text)); likely causes: another client connected with our client id and took the session over, the broker dropped us after 1.5x keepalive without traffic, or the broker restarted")
        case Int(MOSQ_ERR_KEEPALIVE.rawValue):
            return .init(code: Int(rc), name: "MOSQ_ERR_KEEPALIVE", explanation:
                "no answer from the broker within the keepalive interval: the network or the broker is unreachable")
        case Int(MOSQ_ERR_PROTOCOL.rawValue):
            return .init(code: Int(rc), name: "MOSQ_ERR_PROTOCOL", explanation: "protocol error from the broker (\(text))")
        case Int(MOSQ_ERR_TLS.rawValue):
            return .init(code: Int(rc), name: "MOSQ_ERR_TLS", explanation: "TLS error (\(text))")
        case Int(MOSQ_ERR_ERRNO.rawValue):
            return .init(code: Int(rc), name: "MOSQ_ERR_ERRNO", explanation: "system error: \(String(cString: strerror(errno)))")
        case Int(MOSQ_ERR_NO_CONN.rawValue):
            return .init(code: Int(rc), name: "MOSQ_ERR_NO_CONN", explanation: "not connected")
        default:
            // MQTT 5 brokers send a DISCONNECT with a reason code, which libmosquitto passes on as rc.
            if protocolVersion == .v5, rc >= 0x80 { return fromReasonCode(Int(rc)) }
            return .init(code: Int(rc), name: "MOSQ_ERR_\(rc)", explanation: text)
        }
    }

    /// MQTT 5 reason codes from a server DISCONNECT or a refused CONNACK.
    static func fromReasonCode(_ code: Int) -> DisconnectReason {
        let text = String(cString: mosquitto_reason_string(Int32(code)))
        switch code {
        case 0x8E:
            return .init(code: code, name: "session taken over", explanation:
                "another client connected with our client id and took the session over")
        case 0x86, 0x87:
            return .init(code: code, name: text, explanation: "the broker refused our credentials (\(text)): check mqtt.username and the password")
        case 0x8D:
            return .init(code: code, name: text, explanation: "the broker dropped us after the keepalive ran out")
        case 0x8B:
            return .init(code: code, name: text, explanation: "the broker is shutting down")
        case 0x84:
            return .init(code: code, name: text, explanation:
                "the broker does not speak MQTT 5: set mqtt.protocol to auto (the default, which falls back to 3.1.1) or to 3.1.1")
        default:
            return .init(code: code, name: text, explanation: text)
        }
    }

    /// MQTT 3.1.1 CONNACK return codes.
    static func fromConnack(_ code: Int) -> DisconnectReason {
        let text = String(cString: mosquitto_connack_string(Int32(code)))
        let hint = (code == 4 || code == 5) ? ": check mqtt.username and the password" : ""
        return .init(code: code, name: "CONNACK \(code)", explanation: "the broker refused the connection (\(text))\(hint)")
    }

    /// True for failures that retrying soon cannot fix: wrong credentials, a certificate that does
    /// not verify. The session waits the longest backoff instead of hammering the broker.
    var isConfigurationProblem: Bool {
        switch name {
        case "MOSQ_ERR_TLS", "CONNACK 4", "CONNACK 5": return true
        default: return code == 0x86 || code == 0x87 || code == 0x8C || code == 0x84
        }
    }

    /// A takeover shows up as a plain TCP close on mosquitto 2.0 and as reason 0x8E on MQTT 5 brokers
    /// that say so.
    var mayBeTakeover: Bool {
        name == "MOSQ_ERR_CONN_LOST" || code == 0x8E
    }
}
