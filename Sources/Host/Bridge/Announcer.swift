/// Where validated announcement requests go. The speaker pipeline (TTS, media server, per-speaker
/// queues) implements it; the router only needs the first events to publish.
public protocol Announcer: Sendable {
    /// Accepts a request and returns the events to publish right away (`queued`, or `failed`).
    func accept(_ request: SpeakRequest) async -> [AnnouncementEvent]
}

/// The announcer of a host that has no speaker driver loaded: every request fails with a reason
/// that tells the user what is missing, rather than vanishing.
public struct NoSpeakersAnnouncer: Announcer {
    public init() {}

    public func accept(_ request: SpeakRequest) async -> [AnnouncementEvent] {
        let targets = request.speakers.isEmpty ? ["all"] : request.speakers
        let reason = targets == ["all"]
            ? "no speakers are available: no speaker driver is loaded"
            : "unknown speaker \(targets.map { "'\($0)'" }.joined(separator: ", ")): no speaker driver is loaded"
        return [AnnouncementEvent(id: request.id, state: .failed, speakers: targets, reason: reason)]
    }
}
