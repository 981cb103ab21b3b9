import Foundation
import SpeakerbridgeHost

/// Sends a bridge request and returns the answer's `data`, or fails with its error.
func ask(_ options: ConfigOptions, _ name: String, _ fields: [String: JSONValue], timeout: Double) async throws -> JSONValue {
    let config = try options.loadOrFail()
    let topics = Topics(base: config.baseTopic)
    let transaction = "cli-\(UInt32.random(in: 0...UInt32.max))"
    var request = fields
    request["transaction"] = .string(transaction)
    do {
        let client = try CommandClient(config: config, timeout: timeout)
        defer { client.close() }
        try client.subscribe(topics.response(name))
        try client.publish(topics.request(name), Array(JSONValue.object(request).serialized().utf8))
        guard let answer = client.next(timeout: timeout, { m -> JSONValue? in
            guard let json = try? JSONValue.parse(m.payload), json["transaction"] == .string(transaction) else { return nil }
            return json
        }) else {
            // With a list, the request went to one broker; a daemon on another one hears it only
            // if the brokers are one cluster.
            let via = config.brokerList.count > 1 ? " Asked through \(client.broker), the first broker of the list that took the connection" : ""
            throw fail("no answer from the daemon within \(timeout) s (is it running, with base topic \(config.baseTopic)?\(via))")
        }
        guard answer["status"] == "ok" else { throw fail(answer["error"]?.stringValue ?? "error") }
        return answer["data"] ?? .null
    } catch let error as CommandClient.Failure {
        throw fail(error.description)
    }
}
