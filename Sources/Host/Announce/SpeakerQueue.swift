import Logging

/// One speaker's announcements, played one at a time: high priority ones before normal ones,
/// otherwise in arrival order. An interrupting announcement goes first and cuts the clip playing.
actor SpeakerQueue {
    struct Item: Sendable {
        let announcement: Announcement
        let high: Bool
    }

    let speaker: SpeakerHandle
    private let backend: any AnnouncementBackend
    private let spool: Spool
    private let logger: Logger
    private var items: [Item] = []
    private var running = false
    /// The operation playing now, so an interrupt can cancel it.
    private var currentOperation: UInt64?
    /// An interrupt came while the current announcement had not started its clip yet (still being
    /// synthesised, or `playing` already said but the driver's operation not yet known): its clip is
    /// cut as soon as it starts.
    private var interruptWhenStarted = false
    private var stopped = false
    private var currentItem = false

    init(speaker: SpeakerHandle, backend: any AnnouncementBackend, spool: Spool, logger: Logger) {
        self.speaker = speaker
        self.backend = backend
        self.spool = spool
        self.logger = logger
    }

    func enqueue(_ announcement: Announcement, high: Bool, interrupt: Bool) async {
        let item = Item(announcement: announcement, high: high || interrupt)
        if interrupt {
            items.insert(item, at: 0)
        } else if item.high {
            items.insert(item, at: items.firstIndex { !$0.high } ?? items.endIndex)
        } else {
            items.append(item)
        }
        if !running, !stopped {
            running = true
            Task { await drain() }
        }
        if interrupt, let op = currentOperation {
            logger.info("announce: interrupting the clip playing on \(speaker.speaker.name)")
            await backend.cancel(operation: op, on: speaker)
        } else if interrupt, currentItem {
            interruptWhenStarted = true
        }
    }

    func stop() { stopped = true }

    /// Announcements waiting, the one playing included.
    var count: Int { items.count + (currentItem ? 1 : 0) }

    private func drain() async {
        while !items.isEmpty, !stopped {
            let item = items.removeFirst()
            currentItem = true
            // A crash while this speaker plays counts against the announcement (see Router).
            spool.beginAttempt(item.announcement.requestSeq)
            await item.announcement.play(on: speaker, backend: backend) { op in
                await self.started(op)
            }
            spool.endAttempt(item.announcement.requestSeq)
            currentItem = false
            currentOperation = nil
            interruptWhenStarted = false
        }
        running = false
    }

    private func started(_ operation: UInt64) async {
        currentOperation = operation
        if interruptWhenStarted {
            interruptWhenStarted = false
            logger.info("announce: interrupting the clip that just started on \(speaker.speaker.name)")
            await backend.cancel(operation: operation, on: speaker)
        }
    }
}
