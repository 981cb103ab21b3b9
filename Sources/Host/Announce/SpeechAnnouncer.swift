import Logging
import Synchronization

/// The speech pipeline's front door: resolves the target speakers, starts the speech synthesis,
/// and puts the announcement into each speaker's queue, in the order requests arrive.
public final class SpeechAnnouncer: Announcer {
    private let registry: PluginRegistry
    private let spool: Spool
    private let topics: Topics
    private let addressing: any ClipAddressing
    private let maxQueue: Int
    private let logger: Logger
    private let queues = Mutex<[String: SpeakerQueue]>([:])
    private let stopping = AtomicFlag()

    public init(registry: PluginRegistry, spool: Spool, topics: Topics, addressing: any ClipAddressing = FixedClipAddressing(),
                maxQueue: Int = 100, logger: Logger) {
        self.maxQueue = maxQueue
        self.registry = registry
        self.spool = spool
        self.topics = topics
        self.addressing = addressing
        self.logger = logger
    }

    public func accept(_ request: SpeakRequest, requestSeq: UInt64) async -> AnnouncementAcceptance {
        let wanted = request.speakers.isEmpty ? ["all"] : request.speakers
        var known = registry.speakers
        // A speaker a driver found a moment ago may not be in the host's list yet: ask the
        // drivers once before calling a name unknown, and before "all", which means every speaker
        // now (a stale list silently left a just-found speaker out).
        if known.isEmpty || wanted.contains(where: { $0.lowercased() == "all" || SpeechAnnouncer.resolve($0, in: known).isEmpty }) {
            await registry.refreshSpeakers()
            known = registry.speakers
        }
        guard !known.isEmpty else {
            return .final([AnnouncementEvent(id: request.id, state: .failed, speakers: wanted,
                                             reason: "no speakers are available: no speaker driver is loaded, or none found a speaker")])
        }
        var targets: [SpeakerInfo] = []
        var unknown: [String] = []
        for name in wanted {
            let matches = SpeechAnnouncer.resolve(name, in: known)
            if matches.isEmpty { unknown.append(name) }
            for m in matches where !targets.contains(m) { targets.append(m) }
        }
        guard unknown.isEmpty else {
            let list = known.map(\.name).joined(separator: ", ")
            return .final([AnnouncementEvent(id: request.id, state: .failed, speakers: wanted,
                                             reason: "unknown speaker \(unknown.map { "'\($0)'" }.joined(separator: ", ")); known speakers: \(list)")])
        }
        // A bounded queue per speaker: a burst is refused with a reason instead of piling up.
        var full: [String] = []
        for speaker in targets where await queue(for: speaker).count >= maxQueue { full.append(speaker.name) }
        guard full.isEmpty else {
            return .final([AnnouncementEvent(id: request.id, state: .failed, speakers: targets.map(\.name),
                                             reason: "\(full.joined(separator: ", ")) already \(full.count == 1 ? "has" : "have") \(maxQueue) announcements queued (announcements.max_queue); try again later")])
        }
        // `queued` goes out before any queue can say `playing`.
        do {
            try spool.publish([AnnouncementEvent(id: request.id, state: .queued, speakers: targets.map(\.name)).message(topics)])
        } catch {
            logger.error("announce: cannot queue an event: \(error)")
        }
        let announcement = Announcement(request: request, requestSeq: requestSeq, speakers: targets, registry: registry,
                                        spool: spool, topics: topics, addressing: addressing, logger: logger,
                                        stopping: { [stopping] in stopping.isSet })
        for speaker in targets {
            await queue(for: speaker).enqueue(announcement, high: request.priority == .high, interrupt: request.interrupt)
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

    /// A speaker by id, by name (any case), by group, or every speaker for "all".
    static func resolve(_ name: String, in speakers: [SpeakerInfo]) -> [SpeakerInfo] {
        let lower = name.lowercased()
        if lower == "all" { return speakers }
        if let exact = speakers.first(where: { $0.id == name }) { return [exact] }
        let byName = speakers.filter { $0.name.lowercased() == lower }
        if !byName.isEmpty { return byName }
        return speakers.filter { $0.group?.lowercased() == lower }
    }

    private func queue(for speaker: SpeakerInfo) -> SpeakerQueue {
        queues.withLock { q in
            if let existing = q[speaker.id] { return existing }
            let created = SpeakerQueue(speaker: speaker, registry: registry, spool: spool, logger: logger)
            q[speaker.id] = created
            return created
        }
    }
}
