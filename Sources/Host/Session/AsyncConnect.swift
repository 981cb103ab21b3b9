import CMosquitto
import Foundation

/// libmosquitto's asynchronous connect, driven by the caller's own poll(2) loop up to the CONNACK:
/// the daemon's session (`SessionLoop`) and the one-shot clients (`BrokerAttempt`: the doctor,
/// `say`, `health`) both connect through it, so what one learns about the library's edges the
/// other knows too.
///
/// Why not the blocking connect: it sits in SYN retries for minutes on a silent address, and it
/// opens no door for our own deadline. The asynchronous one returns at once; writability then
/// says the TCP connect completed (or failed, in SO_ERROR), and libmosquitto's handshake (TLS,
/// then CONNECT) goes on inside `loop_read`/`loop_write`.
///
/// Confined to the thread of the loop that owns the handle.
struct AsyncConnect {
    /// How the connect call itself went.
    enum Start: Equatable {
        case started
        /// getaddrinfo failed (its EAI_* text).
        case unresolvable(String)
        /// connect(2) failed at once: ECONNREFUSED, ENETUNREACH…
        case failed(errno: Int32)
        /// A TCP connect that completes at once (loopback, a loaded machine) starts the TLS
        /// handshake inside the call, and a certificate that does not verify fails it there.
        case tls
        /// Any other libmosquitto code (MOSQ_ERR_INVAL, MOSQ_ERR_NOMEM…).
        case library(Int32)
    }

    /// The TCP connection is up (writability seen with no SO_ERROR).
    private(set) var tcpUp = false

    /// Starts the connect. `sessionExpiry`: an MQTT 5 Session Expiry Interval for the CONNECT.
    static func start(_ handle: OpaquePointer, broker: BrokerAddress, keepalive: Int32, bindAddress: String?,
                      sessionExpiry: UInt32? = nil) -> Start {
        if let sessionExpiry {
            // libmosquitto 2.0 has no asynchronous connect that takes CONNECT properties. Its v5
            // connect stores the properties on the handle before it looks at the port, so a call
            // with port -1 (refused at once, no I/O) leaves them for the asynchronous connect to
            // send. MultiBrokerTests and DeliveryTests see the session resumed.
            var props: OpaquePointer? = nil
            mosquitto_property_add_int32(&props, Int32(MQTT_PROP_SESSION_EXPIRY_INTERVAL.rawValue), sessionExpiry)
            _ = mosquitto_connect_bind_v5(handle, broker.host, -1, keepalive, nil, props)
            mosquitto_property_free_all(&props)
        }
        let rc = mosquitto_connect_bind_async(handle, broker.host, Int32(broker.port), keepalive, bindAddress)
        let callErrno = errno
        switch rc {
        case MOSQ_ERR_SUCCESS.rawValue: return .started
        // libmosquitto leaves getaddrinfo's EAI_* code in errno.
        case MOSQ_ERR_EAI.rawValue: return .unresolvable(String(cString: gai_strerror(callErrno)))
        case MOSQ_ERR_ERRNO.rawValue: return .failed(errno: callErrno)
        case MOSQ_ERR_TLS.rawValue: return .tls
        default: return .library(rc)
        }
    }

    /// The events to poll the client's socket for: until the TCP connect completes, writability is
    /// what says it did (or failed).
    func events(_ handle: OpaquePointer) -> Int16 {
        Int16(POLLIN) | (mosquitto_want_write(handle) || !tcpUp ? Int16(POLLOUT) : 0)
    }

    /// What the loop should do after poll(2) returned `revents` for `socket`.
    enum Next: Equatable {
        /// The TCP connect failed (SO_ERROR).
        case tcpFailed(errno: Int32)
        /// Go on; call `loop_read` when `read` says so.
        case proceed(read: Bool)
    }

    /// `connackSeen`: before the CONNACK, a TLS handshake that waited for the TCP connect resumes
    /// only in `loop_read` (libmosquitto's own loop does the same on writability); without TLS the
    /// read finds nothing and returns.
    mutating func handle(revents: Int16, socket: Int32, connackSeen: Bool) -> Next {
        if !tcpUp, revents & Int16(POLLOUT | POLLERR | POLLHUP) != 0 {
            var soError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(socket, SOL_SOCKET, SO_ERROR, &soError, &length)
            guard soError == 0 else { return .tcpFailed(errno: soError) }
            tcpUp = true
        }
        let read = revents & Int16(POLLIN | POLLERR | POLLHUP) != 0 || (!connackSeen && revents & Int16(POLLOUT) != 0)
        return .proceed(read: read)
    }
}
