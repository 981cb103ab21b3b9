import Logging
import Synchronization

/// The speech pipeline's front door: resolves the target speakers, starts the speech synthesis,
/// and puts the announcement into each speaker's queue, in the order requests arrive.
public final class SpeechAnnouncer: Announcer {
    private let directory: SpeakerDirectory
    private let backend: any AnnouncementBackend
    private let spool: Spool
    private let topics: Topics
    private let addressing: (any ClipAddressing)?
    private let maxQueue: Int
    private let metrics: DaemonMetrics?
    private let logger: Logger
    private let queues = Mutex<[String: SpeakerQueue]>([:])
    private let stopping = AtomicFlag()

    /// `addressing`: the media server, to keep the speech clip while it plays and to address it per
    /// speaker; nil plays every clip URL as the TTS plugin gave it.
    public init(directory: SpeakerDirectory, backend: any AnnouncementBackend, spool: Spool, topics: Topics,
                addressing: (any ClipAddressing)? = nil, maxQueue: Int = 100, metrics: DaemonMetrics? = nil, logger: Logger) {
        self.maxQueue = maxQueue
        self.metrics = metrics
        self.directory = directory
        self.backend = backend
        self.spool = spool
        self.topics = topics
        self.addressing = addressing
        self.logger = logger
    }

    public func accept(_ request: SpeakRequest, requestSeq: UInt64) async -> AnnouncementAcceptance {
        let wanted = request.speakers.isEmpty ? ["all"] : request.speakers
        let targets: [SpeakerHandle]
        do { targets = try await directory.resolve(wanted) } catch {
            return .final([AnnouncementEvent(id: request.id, state: .failed, speakers: wanted, reason: error.description)])
        }
        // A bounded queue per speaker: a burst is refused with a reason instead of piling up.
        var full: [String] = []
        for target in targets where await queue(for: target).count >= maxQueue { full.append(target.speaker.name) }
        guard full.isEmpty else {
            return .final([AnnouncementEvent(id: request.id, state: .failed, speakers: targets.map(\.speaker.name),
                                             reason: "\(full.joined(separator: ", ")) already \(full.count == 1 ? "has" : "have") \(maxQueue) announcements queued (announcements.max_queue); try again later")])
        }
        // `queued` goes out before any queue can say `playing`.
        do {
            try spool.publish([AnnouncementEvent(id: request.id, state: .queued, speakers: targets.map(\.speaker.name)).message(topics)])
        } catch {
            logger.error("announce: cannot queue an event: \(error)")
        }
        let announcement = Announcement(request: request, requestSeq: requestSeq, speakers: targets, backend: backend,
                                        spool: spool, topics: topics, addressing: addressing, metrics: metrics, logger: logger,
                                        stopping: { [stopping] in stopping.isSet })
        for target in targets {
            await queue(for: target).enqueue(announcement, high: request.priority == .high, interrupt: request.interrupt)
        }
        // The router's attempt covers the synthesis; once the speech is ready the announcement only
        // waits, and a crash while it waits is not its fault (each queue holds an attempt while playing).
        Task { [spool] in
            await announcement.waitForSpeech()
            spool.endAttempt(requestSeq)
        }
        return .pending([])
    }

    /// The daemon is stopping (before the plugins are unloaded): queues stop starting clips and
    /// nothing more is marked done, so what is still queued is announced after the restart.
    public func stop() {
        stopping.set()
        for q in queues.withLock({ Array($0.values) }) { Task { await q.stop() } }
    }

    private func queue(for speaker: SpeakerHandle) -> SpeakerQueue {
        queues.withLock { q in
            if let existing = q[speaker.speaker.id] { return existing }
            let created = SpeakerQueue(speaker: speaker, backend: backend, spool: spool, logger: logger)
            q[speaker.speaker.id] = created
            return created
        }
    }
}
