/// The request/response envelope of the MQTT contract:
/// `{"status":"ok"|"error","data":…,"error":"…","transaction":…}`.
public enum Envelope {
    public static func ok(_ data: JSONValue, transaction: JSONValue?) -> JSONValue {
        var o: [String: JSONValue] = ["status": "ok", "data": data]
        if let transaction { o["transaction"] = transaction }
        return .object(o)
    }

    public static func error(_ message: String, transaction: JSONValue?) -> JSONValue {
        var o: [String: JSONValue] = ["status": "error", "error": .string(message)]
        if let transaction { o["transaction"] = transaction }
        return .object(o)
    }

    /// The reply to `request`: to its MQTT 5 response topic with its correlation data when it gave
    /// one that `policy` allows, else to `defaultTopic` (with a `warning` saying why).
    static func reply(_ body: JSONValue, to request: InboundRequest, defaultTopic: String,
                      policy: ResponseTopicPolicy) -> OutboundMessage {
        reply(body, responseTopic: request.responseTopic, correlationData: request.correlationData,
              defaultTopic: defaultTopic, policy: policy)
    }

    static func reply(_ body: JSONValue, responseTopic: String?, correlationData: [UInt8]?, defaultTopic: String,
                      policy: ResponseTopicPolicy) -> OutboundMessage {
        guard let responseTopic else { return OutboundMessage(topic: defaultTopic, json: body) }
        if let problem = policy.problem(with: responseTopic) {
            var answer = body
            if case .object(var o) = body {
                o["warning"] = .string("response topic \(String(reflecting: String(responseTopic.prefix(200)))) not used: it \(problem)")
                answer = .object(o)
            }
            return OutboundMessage(topic: defaultTopic, json: answer, correlationData: correlationData)
        }
        return OutboundMessage(topic: responseTopic, json: body, correlationData: correlationData)
    }
}

/// A bridge request's parsed payload: empty, or a JSON object (with an optional `transaction`).
public struct BridgeRequest: Sendable {
    public let name: String
    public let fields: [String: JSONValue]
    public var transaction: JSONValue? { fields["transaction"] }

    public struct Invalid: Error {
        public let message: String
        public let transaction: JSONValue?
    }

    static func parse(name: String, payload: [UInt8]) throws(Invalid) -> BridgeRequest {
        if payload.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            return BridgeRequest(name: name, fields: [:])
        }
        guard String(validating: payload, as: UTF8.self) != nil else {
            throw Invalid(message: "payload is not valid UTF-8; send a JSON object or nothing", transaction: nil)
        }
        let json: JSONValue
        do { json = try JSONValue.parse(payload) } catch {
            throw Invalid(message: "\(error.description); send a JSON object such as {\"transaction\":\"abc\"} or nothing", transaction: nil)
        }
        guard let fields = json.objectValue else {
            throw Invalid(message: "payload must be a JSON object (or empty), got \(json.serialized().prefix(40))", transaction: nil)
        }
        return BridgeRequest(name: name, fields: fields)
    }
}

/// Answers one `<base>/bridge/request/<name>`.
public protocol BridgeRequestHandler: Sendable {
    var name: String { get }
    /// True when answering may take long (a plugin call, a clip until it ends, a reload waiting
    /// for playing clips): the router then runs the request beside its ordered path, so health and
    /// new announcements never wait behind it.
    var isSlow: Bool { get }
    /// The `data` of an ok answer, or throws `BridgeRequestError` for an error answer.
    func handle(_ request: BridgeRequest) async throws(BridgeRequestError) -> JSONValue
}

public struct BridgeRequestError: Error, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
}
