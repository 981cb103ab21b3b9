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
