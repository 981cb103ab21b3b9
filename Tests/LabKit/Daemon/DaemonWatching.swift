import Foundation

/// A subscriber that records everything the daemon says.
public func watcher(port: Int, _ filters: [String], persistent: Bool = false, tls: TestClient.TLS? = nil) throws -> TestClient {
    let client = try TestClient(clientID: persistent ? "watcher-\(UInt32.random(in: 0...UInt32.max))" : nil,
                                cleanSession: !persistent, sessionExpiry: 3600, tls: tls)
    try client.connect(port: port)
    for f in filters { try client.subscribe(f) }
    return client
}

/// Waits for a live (not retained) `online` on bridge/state received after `after`: the daemon has
/// (re)connected. Returns it, so a caller can time the connection by its arrival.
@discardableResult
public func waitForOnline(_ client: TestClient, _ daemon: DaemonUnderTest, after: ContinuousClock.Instant = .now - .seconds(3600),
                          timeout: Double = 20) throws -> ReceivedMessage {
    try client.waitFor(daemon.topics.state, timeout: timeout) { m in
        !m.retain && m.receivedAt > after && json(m)["state"] as? String == "online"
    }
}

/// Announcement events grouped by id: each id's distinct payloads. Redelivered QoS 1 copies are
/// byte-identical; a request processed twice would show a second payload (events carry the time).
public func eventsByID(_ client: TestClient, _ daemon: DaemonUnderTest) -> [String: Set<String>] {
    var result: [String: Set<String>] = [:]
    for m in client.messages(on: daemon.topics.events) {
        guard let id = json(m)["id"] as? String else { continue }
        result[id, default: []].insert(m.text)
    }
    return result
}
