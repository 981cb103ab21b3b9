/// An announcement request from `<base>/speak` or `<base>/<speaker>/speak`: the JSON of the MQTT
/// contract, or plain text.
public struct SpeakRequest: Sendable, Equatable {
    public enum Priority: String, Sendable { case normal, high }
    /// How several speakers hear it: each on its own at once (parallel), or as one synchronised
    /// temporary group where the driver can make one (group).
    public enum Mode: String, Sendable { case parallel, group }

    public var id: String?
    public var text: String
    /// Names, ids or groups; "all" for every speaker. Empty means the default speakers.
    public var speakers: [String]
    public var volume: Int?
    public var voice: String?
    public var priority: Priority = .normal
    public var interrupt = false
    public var chime: String?
    /// Words per minute (80…450); nil for the voice's default.
    public var rate: Int?
    /// 0…100; nil for the voice's default.
    public var pitch: Int?
    /// The text is espeak-ng's SSML subset.
    public var ssml = false
    public var mode: Mode = .parallel
    /// Only speakers that are playing something hear it; the others are skipped (not failed).
    public var onlyWhenPlaying = false

    public static let maxTextLength = 10_000
    static let fields: Set<String> = ["id", "text", "speakers", "speaker", "volume", "voice", "priority", "interrupt", "chime",
                                      "rate", "pitch", "ssml", "mode", "only_when_playing"]

    public struct Invalid: Error, Sendable {
        public let reason: String
        /// The request's id when it could be read, so the failure event can name it.
        public let id: String?
    }

    public static func parse(_ payload: [UInt8], speakerFromTopic: String?) throws(Invalid) -> SpeakRequest {
        guard let raw = String(validating: payload, as: UTF8.self) else {
            throw Invalid(reason: "payload is not valid UTF-8", id: nil)
        }
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        var request = SpeakRequest(id: nil, text: trimmed, speakers: speakerFromTopic.map { [$0] } ?? [])
        if trimmed.hasPrefix("{") {
            let json: JSONValue
            do { json = try JSONValue.parse(payload) } catch { throw Invalid(reason: error.description, id: nil) }
            guard let o = json.objectValue else { throw Invalid(reason: "payload must be a JSON object or plain text", id: nil) }
            request = try fromObject(o, speakerFromTopic: speakerFromTopic)
        }
        guard !request.text.isEmpty else { throw Invalid(reason: "text is empty: nothing to say", id: request.id) }
        guard request.text.count <= maxTextLength else {
            throw Invalid(reason: "text is \(request.text.count) characters long; the limit is \(maxTextLength)", id: request.id)
        }
        return request
    }

    private static func fromObject(_ o: [String: JSONValue], speakerFromTopic: String?) throws(Invalid) -> SpeakRequest {
        var id: String? = nil
        switch o["id"] {
        case nil, .null?: break
        case .string(let s)?: id = s
        case .number(let n)?: id = n.rounded() == n ? String(Int64(n)) : String(n)
        default: throw Invalid(reason: "id must be a string or a number", id: nil)
        }
        func fail(_ reason: String) -> Invalid { Invalid(reason: reason, id: id) }
        if let unknown = o.keys.filter({ !fields.contains($0) }).sorted().first {
            throw fail("unknown field '\(unknown)'; known fields: \(fields.sorted().joined(separator: ", "))")
        }
        guard case .string(let text)? = o["text"] else { throw fail("text is missing or not a string") }
        var r = SpeakRequest(id: id, text: text.trimmingCharacters(in: .whitespacesAndNewlines),
                             speakers: speakerFromTopic.map { [$0] } ?? [])
        for key in ["speakers", "speaker"] {
            switch o[key] {
            case nil, .null?: continue
            case .string(let s)?: r.speakers = [s]
            case .array(let a)?:
                var names: [String] = []
                for v in a {
                    guard case .string(let s) = v, !s.isEmpty else { throw fail("\(key) must be a list of speaker names") }
                    names.append(s)
                }
                r.speakers = names
            default: throw fail("\(key) must be a speaker name or a list of them")
            }
        }
        switch o["volume"] {
        case nil, .null?: break
        case .number(let v)? where v >= 0 && v <= 100 && v.rounded() == v: r.volume = Int(v)
        default: throw fail("volume must be a whole number from 0 to 100")
        }
        switch o["voice"] {
        case nil, .null?: break
        case .string(let v)?: r.voice = v
        default: throw fail("voice must be a string")
        }
        switch o["priority"] {
        case nil, .null?: break
        case .string(let p)?:
            guard let value = Priority(rawValue: p) else { throw fail("priority must be \"normal\" or \"high\"") }
            r.priority = value
        default: throw fail("priority must be \"normal\" or \"high\"")
        }
        switch o["interrupt"] {
        case nil, .null?: break
        case .bool(let b)?: r.interrupt = b
        default: throw fail("interrupt must be true or false")
        }
        switch o["chime"] {
        case nil, .null?: break
        case .string(let c)? where c.hasPrefix("http://") || c.hasPrefix("https://"): r.chime = c
        default: throw fail("chime must be an http(s) URL of a clip the speakers can fetch")
        }
        switch o["rate"] {
        case nil, .null?: break
        case .number(let v)? where v >= 80 && v <= 450 && v.rounded() == v: r.rate = Int(v)
        default: throw fail("rate must be a whole number of words per minute from 80 to 450")
        }
        switch o["pitch"] {
        case nil, .null?: break
        case .number(let v)? where v >= 0 && v <= 100 && v.rounded() == v: r.pitch = Int(v)
        default: throw fail("pitch must be a whole number from 0 to 100")
        }
        switch o["ssml"] {
        case nil, .null?: break
        case .bool(let b)?: r.ssml = b
        default: throw fail("ssml must be true or false")
        }
        switch o["mode"] {
        case nil, .null?: break
        case .string(let m)? where Mode(rawValue: m) != nil: r.mode = Mode(rawValue: m)!
        default: throw fail("mode must be \"parallel\" or \"group\"")
        }
        switch o["only_when_playing"] {
        case nil, .null?: break
        case .bool(let b)?: r.onlyWhenPlaying = b
        default: throw fail("only_when_playing must be true or false")
        }
        return r
    }
}

import Foundation
