/// The idempotency key of a request, computed inside the MQTT callback before the PUBACK.
///
/// A request that names itself (`id` for announcements, `transaction` for bridge requests, at most
/// `maxNameBytes`) is processed once per name. Without a name only a broker redelivery may be
/// recognised: a QoS 1/2 message gets a key from its packet id and a hash of its topic and content,
/// remembered for two minutes. A QoS 0 message is never redelivered and always carries packet id 0,
/// so it gets no key at all (nil): a doorbell rung twice is announced twice.
enum RequestKey {
    /// Longer ids and transactions are refused (they would be remembered for the whole dedup window).
    static let maxNameBytes = 200

    static func derive(route: Topics.Route, payload: [UInt8], qos: Int32, mid: Int32, topic: String) -> String? {
        derive(name: ownName(route: route, payload: payload), payload: payload, qos: qos, mid: mid, topic: topic)
    }

    /// The same, for a caller that already looked for the request's own name (the intake does, to
    /// refuse an over-long one): the payload is scanned once per message.
    static func derive(name: (field: String, value: String, key: String)?, payload: [UInt8], qos: Int32, mid: Int32,
                       topic: String) -> String? {
        if let name, name.value.utf8.count <= maxNameBytes { return name.key }
        guard qos > 0 else { return nil }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in topic.utf8 { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
        for b in payload { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
        return "~\(mid):" + String(hash, radix: 16)
    }

    /// The name the request gives itself: which field, its value (any length), and the key it makes
    /// (`speak:<id>`, `req:<request>:<transaction>`).
    static func ownName<C: RandomAccessCollection<UInt8>>(route: Topics.Route, payload: C)
        -> (field: String, value: String, key: String)? where C.Index == Int
    {
        switch route {
        case .speak:
            return TopLevelField.value(of: "id", in: payload).map { ("id", $0, "speak:" + $0) }
        case .bridgeRequest(let name), .speakerCommand(let name):
            return TopLevelField.value(of: "transaction", in: payload).map { ("transaction", $0, "req:\(name):" + $0) }
        case .unknown:
            return nil
        }
    }
}

extension RequestKey {
    /// The request's own id or transaction back from a key `ownName` made (`speak:<id>`,
    /// `req:<request>:<transaction>`), nil for derived keys. Kept beside the format it reads.
    static func ownValue(ofKey key: String) -> String? {
        if key.hasPrefix("speak:") { return String(key.dropFirst(6)) }
        if key.hasPrefix("req:"), let colon = key.dropFirst(4).firstIndex(of: ":") {
            return String(key[key.index(after: colon)...])
        }
        return nil
    }
}

/// Finds a top-level string or number field in a JSON object without building the document:
/// this runs for every incoming message on the MQTT thread. Anything it does not understand
/// yields nil, and the full parser reports the problem later.
enum TopLevelField {
    static func value<C: RandomAccessCollection<UInt8>>(of field: String, in bytes: C) -> String? where C.Index == Int {
        var i = bytes.startIndex
        let n = bytes.endIndex
        func skipSpace() { while i < n, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0A || bytes[i] == 0x0D { i += 1 } }
        /// Reads a string starting at the quote; returns its raw bytes (escapes kept verbatim).
        func string() -> C.SubSequence? {
            guard i < n, bytes[i] == 0x22 else { return nil }
            i += 1
            let start = i
            while i < n, bytes[i] != 0x22 { i += bytes[i] == 0x5C ? 2 : 1 }
            guard i < n else { return nil }
            defer { i += 1 }
            return bytes[start..<i]
        }
        /// Skips any value, nested ones included.
        func skipValue() -> Bool {
            skipSpace()
            guard i < n else { return false }
            if bytes[i] == 0x22 { return string() != nil }
            if bytes[i] == 0x7B || bytes[i] == 0x5B {
                var depth = 0
                while i < n {
                    switch bytes[i] {
                    case 0x22: if string() == nil { return false }; continue
                    case 0x7B, 0x5B: depth += 1
                    case 0x7D, 0x5D: depth -= 1; if depth == 0 { i += 1; return true }
                    default: break
                    }
                    i += 1
                }
                return false
            }
            while i < n, bytes[i] != 0x2C, bytes[i] != 0x7D { i += 1 }
            return true
        }
        skipSpace()
        guard i < n, bytes[i] == 0x7B else { return nil }
        i += 1
        let wanted = Array(field.utf8)
        var found: String? = nil
        while true {
            skipSpace()
            guard let key = string() else { return nil }
            skipSpace()
            guard i < n, bytes[i] == 0x3A else { return nil }
            i += 1
            skipSpace()
            let valueStart = i
            guard skipValue() else { return nil }
            if found == nil, key.elementsEqual(wanted) {
                var end = i
                while end > valueStart, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[end - 1]) { end -= 1 }
                var raw = bytes[valueStart..<end]
                if raw.first == 0x22 { raw = raw.dropFirst().dropLast() }
                else if !raw.allSatisfy({ $0 == 0x2D || $0 == 0x2E || $0 == 0x2B || $0 == 0x65 || $0 == 0x45 || ($0 >= 0x30 && $0 <= 0x39) }) { return nil }
                guard !raw.isEmpty else { return nil }
                found = String(decoding: raw, as: UTF8.self)
            }
            skipSpace()
            guard i < n else { return nil }
            if bytes[i] == 0x7D {
                // Only a complete object names a request: a broken one is answered, never deduplicated.
                i += 1
                skipSpace()
                return i == n ? found : nil
            }
            guard bytes[i] == 0x2C else { return nil }
            i += 1
        }
    }
}
