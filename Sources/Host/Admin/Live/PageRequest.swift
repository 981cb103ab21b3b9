/// The body of `POST /api/request`, `{"topic":"<full request topic>","payload":<object or string>}`,
/// checked and turned into what an MQTT message to that topic would have carried.
///
/// Only the envelope is judged here (is it JSON, an object, a request topic, a payload); the
/// request itself is judged by the intake and the router, exactly as one from the broker.
struct PageRequest: Equatable {
    let topic: String
    /// An object payload serialized, a string payload as its UTF-8 bytes (plain text to speak).
    let payload: [UInt8]

    struct Problem: Error, Equatable {
        let message: String
    }

    /// Deeper bodies are refused before they are parsed: the parser recurses, and no request of
    /// the contract nests more than a few levels.
    static let maxDepth = 64

    static func parse(_ body: [UInt8], topics: Topics) throws(Problem) -> PageRequest {
        let usage = "send {\"topic\":\"\(topics.base)/bridge/request/health\",\"payload\":{\"transaction\":\"1\"}}"
        guard !body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) else {
            throw Problem(message: "the body is empty; \(usage)")
        }
        let depth = nestingDepth(body)
        guard depth <= maxDepth else {
            throw Problem(message: "the body nests more than \(maxDepth) levels deep; \(usage)")
        }
        guard String(validating: body, as: UTF8.self) != nil else {
            throw Problem(message: "the body is not valid UTF-8; \(usage)")
        }
        let json: JSONValue
        do { json = try JSONValue.parse(body) } catch {
            // The parser speaks of a "payload"; here it is the body around one.
            let detail = error.description.hasPrefix("payload ") ? String(error.description.dropFirst(8)) : error.description
            throw Problem(message: "the body \(detail); \(usage)")
        }
        guard let fields = json.objectValue else {
            throw Problem(message: "the body must be a JSON object, got \(kind(of: json)); \(usage)")
        }
        for key in fields.keys.sorted() where key != "topic" && key != "payload" {
            throw Problem(message: "unknown field '\(key)'; the body has only topic and payload")
        }
        guard let topicValue = fields["topic"] else { throw Problem(message: "topic is missing; \(usage)") }
        guard let topic = topicValue.stringValue else {
            throw Problem(message: "topic must be a string, got \(kind(of: topicValue))")
        }
        // A topic no MQTT client could publish to is not one the page may use either.
        guard !topic.contains(where: { $0 == "+" || $0 == "#" || $0 == "\0" }) else {
            throw Problem(message: "topic \(quoted(topic)) has a wildcard or NUL character; name one request topic")
        }
        guard topics.route(topic) != .unknown else {
            throw Problem(message: "\(quoted(topic)) is not a request topic of this bridge; use \(topics.base)/bridge/request/<name>, \(topics.base)/speak, \(topics.base)/<speaker>/speak or \(topics.base)/<speaker>/set")
        }
        guard let payload = fields["payload"] else {
            throw Problem(message: "payload is missing; give a JSON object (or {} for none), or a string for plain text to speak")
        }
        switch payload {
        case .object: return PageRequest(topic: topic, payload: Array(payload.serialized().utf8))
        case .string(let text): return PageRequest(topic: topic, payload: Array(text.utf8))
        default: throw Problem(message: "payload must be a JSON object or a string, got \(kind(of: payload))")
        }
    }

    /// The deepest nesting of arrays and objects, strings skipped; counted on the bytes without
    /// building anything, so a hostile body costs one pass.
    static func nestingDepth(_ bytes: [UInt8]) -> Int {
        var depth = 0, deepest = 0
        var inString = false, escaped = false
        for b in bytes {
            if inString {
                if escaped { escaped = false } else if b == 0x5C { escaped = true } else if b == 0x22 { inString = false }
                continue
            }
            switch b {
            case 0x22: inString = true
            case 0x5B, 0x7B:
                depth += 1
                deepest = max(deepest, depth)
            case 0x5D, 0x7D: depth -= 1
            default: break
            }
        }
        return deepest
    }

    private static func kind(of value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    private static func quoted(_ topic: String) -> String {
        JSONValue.string(topic.count > 200 ? String(topic.prefix(200)) + "…" : topic).serialized()
    }
}
