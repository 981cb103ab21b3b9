import Foundation
import LabKit

/// Polls health on a daemon: one request every `interval`, without waiting for the previous answer
/// (the router answers bridge requests in arrival order, after the speak requests before them).
final class HealthPoller {
    let requests: BridgeRequester
    let responseTopic: String

    init(port: Int, daemon: DaemonUnderTest) throws {
        let client = try TestClient()
        try client.connect(port: port)
        responseTopic = daemon.responseTopic("health")
        try client.subscribe(responseTopic)
        requests = BridgeRequester(client: client, base: daemon.base, transactionPrefix: "bench")
    }

    func request() throws {
        _ = try requests.send("health")
    }

    /// `data.journal` of every health answer so far, with the time it arrived.
    func journals() -> [(at: ContinuousClock.Instant, journal: [String: Any])] {
        requests.client.messages(on: responseTopic).compactMap { m in
            let o = json(m)
            guard o["status"] as? String == "ok", let data = o["data"] as? [String: Any],
                  let journal = data["journal"] as? [String: Any] else { return nil }
            return (m.receivedAt, journal)
        }
    }
}
