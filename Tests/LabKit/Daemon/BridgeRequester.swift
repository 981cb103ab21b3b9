import Foundation
import Synchronization

/// One bridge request and its answer.
public struct BridgeExchange: Sendable {
    public let transaction: String
    public let sentAt: ContinuousClock.Instant
    public let answer: ReceivedMessage
    public var answeredAt: ContinuousClock.Instant { answer.receivedAt }
    public var json: [String: Any] { LabKit.json(answer) }
}

/// Sends bridge requests (`<base>/bridge/request/<name>`) from one client. Each request carries its
/// own transaction and its answer is the response that echoes it, so answers to other requests (or
/// other clients') on the same response topic do not confuse it. The client must be subscribed to
/// the response topics.
public final class BridgeRequester: Sendable {
    public let client: TestClient
    public let base: String
    private let transactionPrefix: String?
    private let sent = Mutex(0)

    /// Transactions are `<transactionPrefix>-1`, `-2`, …; without a prefix, UUIDs (unique across clients).
    public init(client: TestClient, base: String, transactionPrefix: String? = nil) {
        self.client = client
        self.base = base
        self.transactionPrefix = transactionPrefix
    }

    /// Publishes a request (QoS 1) and returns at once with its transaction and the time it was sent.
    public func send(_ name: String, _ fields: [String: Any] = [:]) throws -> (transaction: String, at: ContinuousClock.Instant) {
        let transaction: String
        if let transactionPrefix {
            transaction = "\(transactionPrefix)-\(sent.withLock { $0 += 1; return $0 })"
        } else {
            transaction = "t-\(UUID().uuidString)"
        }
        var body = fields
        body["transaction"] = transaction
        let payload = Array(try JSONSerialization.data(withJSONObject: body))
        let at = ContinuousClock.now
        try client.publish(topic: "\(base)/bridge/request/\(name)", payload: payload, qos: 1)
        return (transaction, at)
    }

    /// The answer to `transaction` on `<base>/bridge/response/<name>`, if it has arrived.
    public func answer(_ name: String, _ transaction: String) -> ReceivedMessage? {
        client.messages(on: "\(base)/bridge/response/\(name)").first { json($0)["transaction"] as? String == transaction }
    }

    /// Sends a request and waits for its answer, checking every `interval` seconds.
    public func request(_ name: String, _ fields: [String: Any] = [:], timeout: Double = 15,
                        interval: Double = 0.005) throws -> BridgeExchange {
        let (transaction, at) = try send(name, fields)
        var found: ReceivedMessage?
        guard waitUntil(timeout: timeout, interval: interval, { found = answer(name, transaction); return found != nil }),
              let found else {
            throw LabError("no answer to \(name) (\(transaction)) within \(timeout) s")
        }
        return BridgeExchange(transaction: transaction, sentAt: at, answer: found)
    }
}
