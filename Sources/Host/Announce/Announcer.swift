/// What the announcer says about a request it was handed.
public struct AnnouncementAcceptance: Sendable, Equatable {
    /// To publish now: `queued`, or a final `failed`.
    public var events: [AnnouncementEvent]
    /// False while the announcement is still going on: the request then stays unfinished in the
    /// journal (and is announced again after a restart) until the announcer completes it.
    public var finished: Bool

    public static func final(_ events: [AnnouncementEvent]) -> AnnouncementAcceptance { .init(events: events, finished: true) }
    public static func pending(_ events: [AnnouncementEvent]) -> AnnouncementAcceptance { .init(events: events, finished: false) }
}

/// Where validated announcement requests go. The speech pipeline (TTS, media server, per-speaker
/// queues) implements it.
public protocol Announcer: Sendable {
    /// Accepts a request recorded in the journal as `requestSeq`. When the acceptance is not
    /// final, the announcer later marks the request done (with its final event) in the spool.
    func accept(_ request: SpeakRequest, requestSeq: UInt64) async -> AnnouncementAcceptance
    /// The daemon is stopping: finish nothing more (what is unfinished is replayed after the restart).
    func stop()
}

extension Announcer {
    public func stop() {}
}

/// The announcer of a host without a speaker pipeline: every request fails with a reason that tells
/// the user what is missing, rather than vanishing.
public struct NoSpeakersAnnouncer: Announcer {
    public init() {}

    public func accept(_ request: SpeakRequest, requestSeq: UInt64) async -> AnnouncementAcceptance {
        let targets = request.speakers.isEmpty ? ["all"] : request.speakers
        let reason = targets == ["all"]
            ? "no speakers are available: no speaker driver is loaded"
            : "unknown speaker \(targets.map { "'\($0)'" }.joined(separator: ", ")): no speaker driver is loaded"
        return .final([AnnouncementEvent(id: request.id, state: .failed, speakers: targets, reason: reason)])
    }
}
