import Foundation

/// Progress of one announcement on `<base>/bridge/event/announcement`:
/// `queued → playing → done | failed(reason)`, keyed by the request id.
public struct AnnouncementEvent: Sendable, Equatable {
    public enum State: String, Sendable { case queued, playing, done, failed }

    public let id: String?
    public let state: State
    public let speakers: [String]
    public let reason: String?
    /// Extra fields: per-speaker `results` on the final event, `cached` … .
    public let extra: [String: JSONValue]

    public init(id: String?, state: State, speakers: [String] = [], reason: String? = nil, extra: [String: JSONValue] = [:]) {
        self.id = id
        self.state = state
        self.speakers = speakers
        self.reason = reason
        self.extra = extra
    }

    public func message(_ topics: Topics) -> OutboundMessage {
        var o: [String: JSONValue] = ["id": .optional(id), "state": .string(state.rawValue),
                                      "speakers": .array(speakers.map { .string($0) }), "at": .preciseTimestamp(Date())]
        if let reason { o["reason"] = .string(reason) }
        for (k, v) in extra where o[k] == nil { o[k] = v }
        return OutboundMessage(topic: topics.announcementEvents, json: .object(o))
    }
}
