import Foundation

/// Progress of one announcement on `<base>/bridge/event/announcement`:
/// `queued → playing → done | failed(reason)`, keyed by the request id.
public struct AnnouncementEvent: Sendable, Equatable {
    public enum State: String, Sendable { case queued, playing, done, failed }

    public let id: String?
    public let state: State
    public let speakers: [String]
    public let reason: String?

    public init(id: String?, state: State, speakers: [String] = [], reason: String? = nil) {
        self.id = id
        self.state = state
        self.speakers = speakers
        self.reason = reason
    }

    public func message(_ topics: Topics) -> OutboundMessage {
        var o: [String: JSONValue] = ["id": .optional(id), "state": .string(state.rawValue),
                                      "speakers": .array(speakers.map { .string($0) }), "at": .preciseTimestamp(Date())]
        if let reason { o["reason"] = .string(reason) }
        return OutboundMessage(topic: topics.announcementEvents, json: .object(o))
    }
}
