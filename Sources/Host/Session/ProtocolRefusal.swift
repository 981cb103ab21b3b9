import CMosquitto

/// How a broker that does not speak MQTT 5 answers a v5 CONNECT, as libmosquitto 2.0 reports it.
///
/// Seen from real brokers: NATS 2.9 (and amqtt without properties) send a 3.1.1 CONNACK with
/// return code 1, which libmosquitto maps to reason 0x84 "Unsupported Protocol Version"; an MQTT 5
/// broker refusing the version sends 0x84 itself; RabbitMQ 3.10 closes the socket without any
/// CONNACK; amqtt never answers a CONNECT that carries properties or a user name. Any other
/// 3.1.1 CONNACK read by a v5 client ends in a protocol error before on_connect.
enum ProtocolRefusal {
    /// What an attempt that ended without a connection saw.
    struct Attempt {
        /// The TCP (and TLS) connection was made.
        var tcpUp: Bool
        /// A CONNACK arrived, whatever it said.
        var connackSeen: Bool
        var reason: DisconnectReason
    }

    /// True when the attempt's end says the broker may not speak MQTT 5.
    static func mayBeVersionRefusal(_ attempt: Attempt) -> Bool {
        if attempt.reason.code == 0x84 { return true }
        guard attempt.tcpUp, !attempt.connackSeen else { return false }
        switch attempt.reason.name {
        case "MOSQ_ERR_PROTOCOL", "MOSQ_ERR_CONN_LOST", "closed before CONNACK", "timeout": return true
        // The close can race our write of the CONNECT: a reset or a broken pipe.
        case "MOSQ_ERR_ERRNO": return true
        default: return false
        }
    }

    /// True when libmosquitto's log holds OpenSSL's complaint: a failed TLS handshake, which can
    /// reach the caller as a lost connection and must not pass for a refusal of MQTT 5.
    static func isTLSFailure(_ libraryErrors: [String]) -> Bool {
        libraryErrors.contains { $0.contains("OpenSSL Error") || $0.contains("SSL routines") }
    }

    /// What the log says the broker did.
    static func describe(_ attempt: Attempt) -> String {
        if attempt.reason.code == 0x84 { return "it answered Unsupported Protocol Version" }
        switch attempt.reason.name {
        case "timeout": return "it sent no CONNACK in time"
        case "MOSQ_ERR_PROTOCOL": return "its CONNACK was not an MQTT 5 one"
        default: return "it closed the connection without a CONNACK"
        }
    }
}
