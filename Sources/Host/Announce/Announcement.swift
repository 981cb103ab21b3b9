import Foundation
import Logging

/// One announcement on its way to one or more speakers: the speech is synthesised once (started
/// when the request is accepted), each speaker's queue plays it in turn, and when every speaker
/// has finished the request is marked done in the journal together with the final event.
actor Announcement {
    let request: SpeakRequest
    let requestSeq: UInt64
    let speakers: [SpeakerHandle]
    private let speech: Task<Result<Speech, AnnouncementFailure>, Never>
    private let spool: Spool
    private let topics: Topics
    private let addressing: (any ClipAddressing)?
    private let metrics: DaemonMetrics?
    private let accepted = ContinuousClock.now
    private let logger: Logger
    private var results: [String: String] = [:]
    /// Per speaker: what its driver could not restore after a played announcement.
    private var notes: [String: String] = [:]
    /// True once the daemon is stopping: outcomes are no longer recorded, so the request stays
    /// unfinished in the journal and is announced again after the restart.
    private let stopping: @Sendable () -> Bool

    struct Speech: Sendable {
        /// As the TTS plugin handed it back.
        let url: String
        /// The media store's clip behind `url`, pinned until the announcement ends; nil when the
        /// plugin serves the clip itself.
        let clip: MediaClip?
        let durationMs: UInt32
        let cached: Bool
    }

    init(request: SpeakRequest, requestSeq: UInt64, speakers: [SpeakerHandle], backend: any AnnouncementBackend, spool: Spool,
         topics: Topics, addressing: (any ClipAddressing)?, metrics: DaemonMetrics? = nil, logger: Logger,
         stopping: @escaping @Sendable () -> Bool) {
        self.stopping = stopping
        self.metrics = metrics
        self.request = request
        self.requestSeq = requestSeq
        self.speakers = speakers
        self.spool = spool
        self.topics = topics
        self.addressing = addressing
        self.logger = logger
        var tts = TTSRequest(text: request.text, voice: request.voice)
        tts.rate = Int32(request.rate ?? 0)
        tts.pitch = Int32(request.pitch ?? -1)
        tts.ssml = request.ssml
        speech = Task {
            // A refusal by the media store after this point is why a failed synthesis failed: the
            // TTS plugin can only say that its put failed, the store knows why.
            let refusalsBefore = addressing?.refusalCount ?? 0
            let synthesisStarted = ContinuousClock.now
            let synthesized = await backend.synthesize(tts)
            metrics?.synthesisTook(.now - synthesisStarted)
            switch synthesized {
            case .error(let reason):
                if let refusal = addressing?.refusal(since: refusalsBefore) {
                    return .failure(AnnouncementFailure(reason: refusal))
                }
                return .failure(AnnouncementFailure(reason: "speech synthesis failed: \(reason)"))
            case .ok(let data):
                guard let url = data["url"]?.stringValue else {
                    return .failure(AnnouncementFailure(reason: "the TTS plugin returned no clip URL"))
                }
                // The clip stays in the media store (no expiry, no eviction) until this
                // announcement ends on every speaker; `finish` unpins it.
                var clip: MediaClip? = nil
                switch addressing?.pin(clipAt: url) ?? .notOurs {
                case .pinned(let pinned): clip = pinned
                case .notOurs: break
                case .gone:
                    return .failure(AnnouncementFailure(reason: "the clip left the media store before its announcement could keep it"))
                }
                return .success(Speech(url: url, clip: clip, durationMs: UInt32(max(0, data["duration_ms"]?.numberValue ?? 0)),
                                       cached: data["cached"] == .bool(true)))
            }
        }
    }

    /// Returns once the speech synthesis has finished (or failed).
    func waitForSpeech() async { _ = await speech.value }

    /// Plays on one speaker (called by that speaker's queue) and records the outcome.
    func play(on queued: SpeakerHandle, backend: any AnnouncementBackend, started: @escaping @Sendable (UInt64) async -> Void) async {
        // The handle resolved for this announcement: newer than the queue's, should the speaker
        // have moved since the queue was made.
        let target = speakers.first { $0.speaker.id == queued.speaker.id } ?? queued
        let speaker = target.speaker
        let outcome: String
        switch await speech.value {
        case .failure(let failure):
            outcome = failure.reason
        case .success(let speech):
            publish(AnnouncementEvent(id: request.id, state: .playing, speakers: [speaker.name],
                                      extra: ["speaker": .string(speaker.name), "cached": .bool(speech.cached)]))
            let volume = Int32(request.volume ?? -1)
            var clips: [SpeakerClip] = []
            if let chime = request.chime {
                clips.append(SpeakerClip(url: chime, mime: chime.hasSuffix(".mp3") ? "audio/mpeg" : "audio/wav", durationMs: 0, volume: volume))
            }
            let url = speech.clip.flatMap { addressing?.url(for: $0, speaker: speaker) } ?? speech.url
            clips.append(SpeakerClip(url: url, mime: "audio/wav", durationMs: speech.durationMs, volume: volume))
            let group = request.mode == .group ? groupMates(of: target) : nil
            for i in clips.indices {
                clips[i].announcementID = request.id
                clips[i].group = group
            }
            // Only the first clip asks: once the chime played, the speaker was playing, and the
            // speech that follows it belongs to the same announcement.
            clips[0].onlyWhenPlaying = request.onlyWhenPlaying
            var failure: String? = nil
            var skipped: String? = nil
            for (i, clip) in clips.enumerated() where failure == nil && skipped == nil {
                switch await backend.play(clip, on: target, onStarted: { op in Task { await started(op) } }) {
                case .error(let reason):
                    failure = (i == 0 && clips.count == 2) ? "the chime did not play: \(reason)" : reason
                case .ok(let data):
                    // A driver that played the clip but could not put the speaker back as it was
                    // says so; the announcement is done, and the note travels with its result.
                    if let note = data["not_restored"]?.stringValue { notes[speaker.id] = note }
                    // Not played on purpose (only_when_playing and the speaker was idle): no failure.
                    if let why = data["skipped"] { skipped = why.stringValue ?? "skipped" }
                }
            }
            outcome = failure ?? skipped.map { "skipped: \($0)" } ?? "done"
        }
        results[speaker.id] = outcome
        if results.count == speakers.count { finish() }
    }

    private func finish() {
        releaseClip()
        guard !stopping() else { return }  // left unfinished in the journal: announced again after the restart
        let speakers = self.speakers.map(\.speaker)
        let failures = speakers.compactMap { s in
            results[s.id].flatMap { $0 == "done" || Announcement.isSkip($0) ? nil : "\(s.name): \($0)" }
        }
        // Results by name for people; two speakers with one name (two drivers) stay apart by id.
        var byName: [String: JSONValue] = [:]
        for s in speakers { byName[byName[s.name] == nil ? s.name : "\(s.name) (\(s.id))"] = .string(results[s.id] ?? "") }
        var extra: [String: JSONValue] = ["results": .object(byName)]
        let noted = speakers.compactMap { s in notes[s.id].map { (s.name, JSONValue.string($0)) } }
        if !noted.isEmpty { extra["not_restored"] = .object(Dictionary(noted) { a, _ in a }) }
        let event = AnnouncementEvent(
            id: request.id, state: failures.isEmpty ? .done : .failed, speakers: speakers.map(\.name),
            reason: failures.isEmpty ? nil : failures.joined(separator: "; "),
            extra: extra)
        metrics?.announcementFinished(done: failures.isEmpty)
        metrics?.announcementLasted(.now - accepted)
        do {
            try spool.complete(requestSeq, publishing: [event.message(topics)])
        } catch {
            logger.error("announce: cannot record the end of announcement \(request.id ?? "-"): \(error)")
        }
    }

    static func isSkip(_ outcome: String) -> Bool { outcome.hasPrefix("skipped: ") }

    /// Group mode: the speakers of `target`'s driver this announcement goes to, in the request's
    /// order. A driver groups only its own speakers; those of other drivers play on their own.
    private func groupMates(of target: SpeakerHandle) -> [String] {
        speakers.filter { $0.driver == target.driver }.map(\.speaker.id)
    }

    /// Every speaker is done with the clip: the media store may expire or evict it again. Through
    /// the speech task, so it also holds when the results came in before the synthesis ended.
    private func releaseClip() {
        Task { [speech, addressing] in
            if case .success(let speech) = await speech.value, let clip = speech.clip { addressing?.unpin(clip) }
        }
    }

    private func publish(_ event: AnnouncementEvent) {
        do { try spool.publish([event.message(topics)]) } catch {
            logger.error("announce: cannot queue an event: \(error)")
        }
    }
}
