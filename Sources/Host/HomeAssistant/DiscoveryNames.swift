/// Turns ids that come from drivers and users (anything: `/`, `#`, quotes, spaces, emoji) into the
/// few shapes Home Assistant's discovery accepts.
///
/// Home Assistant takes a discovery topic's node and object ids only as `[a-zA-Z0-9_-]+`, and
/// `unique_id`s must never change for the same speaker, so the mapping is a pure function of the
/// id: no salted hashing, no dependence on which other speakers exist.
public enum DiscoveryNames {
    /// An id as a discovery topic level and unique-id part: unchanged when it is already safe,
    /// otherwise the safe characters kept plus a hash of the whole id, so two different ids never
    /// share a token (`a/b` and `a#b` differ by their hash).
    public static func token(_ id: String) -> String {
        let bytes = Array(id.utf8)
        let safe = !bytes.isEmpty && bytes.count <= 64 && bytes.allSatisfy(isTokenByte)
        if safe { return id }
        var kept = String(decoding: bytes.map { isTokenByte($0) ? $0 : UInt8(ascii: "_") }.prefix(40), as: UTF8.self)
        if kept.isEmpty { kept = "id" }
        return kept + "_" + hash(id)
    }

    /// A readable entity id part (`Küche / 2` -> `k_che_2`): what Home Assistant itself would make of
    /// it (lower case, `[a-z0-9_]`, no runs or ends of `_`). Only a suggestion: Home Assistant
    /// numbers a clash, and unique ids, not entity ids, identify an entity.
    public static func slug(_ text: String, fallback: String = "speaker") -> String {
        var out: [UInt8] = []
        for b in text.lowercased().utf8 {
            let keep = (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
            if keep {
                out.append(b)
            } else if out.last != UInt8(ascii: "_") {
                out.append(UInt8(ascii: "_"))
            }
        }
        while out.first == UInt8(ascii: "_") { out.removeFirst() }
        while out.last == UInt8(ascii: "_") { out.removeLast() }
        let s = String(decoding: out.prefix(48), as: UTF8.self)
        return s.isEmpty ? fallback : s
    }

    /// A speaker id that can be one level of `<base>/<id>/…` that the router also routes back
    /// (`speak`, `set`): no level separator or wildcard, not the bridge's own level.
    public static func isRoutableLevel(_ id: String) -> Bool {
        !id.isEmpty && id != "bridge" && isPublishable(id) && !id.contains("/")
    }

    /// May appear inside a topic a plugin publishes to (`<base>/<id>/availability`): no wildcards,
    /// no NUL (MQTT forbids them in a PUBLISH topic).
    public static func isPublishable(_ text: String) -> Bool {
        !text.utf8.contains { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") || $0 == 0 }
    }

    /// A JSON string literal for text placed inside a Home Assistant (Jinja) template: the braces,
    /// `%` and `#` of hostile text are written as `\u` escapes, so no `{{`, `{%` or `{#` can start
    /// template code, and the JSON the template renders still decodes to the same text.
    public static func templateLiteral(_ text: String) -> String {
        var out = ""
        for scalar in JSONValue.string(text).serialized().unicodeScalars {
            switch scalar {
            case "{": out += "\\u007b"
            case "}": out += "\\u007d"
            case "%": out += "\\u0025"
            case "#": out += "\\u0023"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func isTokenByte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
            || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
    }

    /// FNV-1a, 32 bits, as 8 hex digits: the same on every run and machine (Swift's Hasher is seeded
    /// per process, which would change unique ids at every start).
    static func hash(_ text: String) -> String {
        var h: UInt32 = 0x811c_9dc5
        for b in text.utf8 {
            h ^= UInt32(b)
            h = h &* 0x0100_0193
        }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }
}
