import Foundation

/// One real MQTT 3.1.1 handshake by hand (CONNECT, CONNACK, DISCONNECT) on 127.0.0.1: the readiness
/// check of the brokers LabKit starts. A bare TCP connect is not enough: RabbitMQ opens its MQTT port
/// before the node has joined its cluster, NATS answers its first CONNECT only once it has made its
/// MQTT streams, and amqtt logs a connection that sends nothing as an error. 3.1.1 because RabbitMQ
/// 3.10, NATS 2.9 and amqtt speak no MQTT 5.
public enum MQTTHandshake {
    /// The CONNACK return code (0 = accepted), or nil when no CONNACK came within `timeout`
    /// (refused, closed, or silent). A clean session, so the probe leaves no session behind.
    public static func connack(port: Int, username: String? = nil, clientID: String? = nil,
                               timeout: Double = 5) -> Int? {
        guard let connection = try? LoopbackConnection(port: port) else { return nil }
        let id = Array((clientID ?? "labkit-ready-\(UInt32.random(in: 0...UInt32.max))").utf8)
        var body: [UInt8] = [0x00, 0x04] + Array("MQTT".utf8) + [0x04]
        body.append(username == nil ? 0x02 : 0x82)  // clean session (+ user name flag)
        body += [0x00, 0x0A]                          // keepalive 10 s
        body += lengthPrefixed(id)
        if let username { body += lengthPrefixed(Array(username.utf8)) }
        guard body.count < 128 else { return nil }    // one-byte remaining length is all a probe needs
        guard connection.send([0x10, UInt8(body.count)] + body) else { return nil }
        var received: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        while received.count < 4 {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { return nil }
            let (bytes, closed) = connection.readSome(timeout: min(left, 0.2))
            received += bytes
            if closed && received.count < 4 { return nil }
        }
        guard received[0] == 0x20, received[1] == 0x02 else { return nil }
        connection.send([0xE0, 0x00])
        return Int(received[3])
    }

    /// Polls `connack` until the broker accepts a connection, the process is gone (`alive` false)
    /// or `timeout` passes. Returns the seconds it took; throws with `why` otherwise.
    @discardableResult
    public static func waitUntilAccepting(port: Int, username: String? = nil, timeout: Double,
                                          alive: () -> Bool = { true }, what: String) throws -> Double {
        let start = ContinuousClock.now
        var last: Int?
        let ok = waitUntil(timeout: timeout, interval: 0.1) {
            guard alive() else { return true }
            last = connack(port: port, username: username, timeout: 3)
            return last == 0
        }
        guard ok, alive(), last == 0 else {
            throw LabError("\(what): no MQTT 3.1.1 CONNACK 0 on 127.0.0.1:\(port) "
                + (alive() ? "within \(timeout) s (last: \(last.map { "return code \($0)" } ?? "none"))" : "(the process exited)"))
        }
        return seconds(since: start)
    }

    private static func lengthPrefixed(_ bytes: [UInt8]) -> [UInt8] {
        [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
    }
}

/// Seconds from `start` until now, as a Double (for printing measured times).
public func seconds(since start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}
