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
