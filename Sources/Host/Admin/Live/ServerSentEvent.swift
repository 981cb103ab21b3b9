/// The text of the status page's server-sent events: one event per MQTT message,
/// `data: {"topic":…,"payload":…,"retain":…}`, the payload as the JSON it is or, when it is not
/// JSON (`online`, plain text), as a JSON string.
enum ServerSentEvent {
    static let ready = "event: ready\ndata: {}\n\n"
    static let keepalive = ": keepalive\n\n"

    /// Appends the event for `message` to `out`.
    static func append(_ message: OutboundMessage, to out: inout [UInt8]) {
        out.append(contentsOf: "data: {\"topic\":".utf8)
        out.append(contentsOf: JSONValue.string(message.topic).serialized().utf8)
        out.append(contentsOf: ",\"payload\":".utf8)
        if isJSON(message.payload) {
            // The payload's own bytes, so numbers and key order stay as the publisher wrote them.
            // JSON may span lines (only between tokens); each line gets its `data:` prefix, and
            // the browser joins them with "\n" again.
            // A blank line would end the event: runs of line breaks collapse into one.
            var afterBreak = false
            for b in message.payload {
                if b == 0x0A || b == 0x0D {
                    if !afterBreak { out.append(0x0A) }
                    afterBreak = true
                } else {
                    if afterBreak { out.append(contentsOf: "data: ".utf8) }
                    afterBreak = false
                    out.append(b)
                }
            }
            if afterBreak { out.append(contentsOf: "data: ".utf8) }
        } else {
            out.append(contentsOf: JSONValue.string(String(decoding: message.payload, as: UTF8.self)).serialized().utf8)
        }
        out.append(contentsOf: ",\"retain\":\(message.retain)}\n\n".utf8)
    }

    /// Valid JSON (any value) in valid UTF-8, without a byte order mark (the browser's JSON.parse
    /// would refuse one in the middle of the envelope).
    static func isJSON(_ payload: [UInt8]) -> Bool {
        guard !payload.isEmpty, !payload.starts(with: [0xEF, 0xBB, 0xBF]),
              String(validating: payload, as: UTF8.self) != nil else { return false }
        return (try? JSONValue.parse(payload)) != nil
    }
}
