import Logging
import Prometheus
import Synchronization

/// One `/metrics` answer: the states and totals the daemon keeps elsewhere are brought into the
/// metrics first (the same numbers `speakerbridge health` shows), then the registry is rendered.
final class MetricsScrape: Sendable {
    let export: PrometheusExport
    let status: SessionStatusBox
    let spool: Spool
    let speakers: SpeakerDirectory?
    let logger: Logger
    /// /proc unreadable is said once, not at every scrape.
    private let procProblemLogged = Mutex(false)

    init(export: PrometheusExport, status: SessionStatusBox, spool: Spool, speakers: SpeakerDirectory?, logger: Logger) {
        self.export = export
        self.status = status
        self.spool = spool
        self.speakers = speakers
        self.logger = logger
    }

    func render() -> [UInt8] {
        let metrics = export.metrics
        let s = status.current
        metrics.observeConnection(connected: s.connected, reconnects: s.reconnects, disconnects: s.disconnects)
        let q = spool.stats
        metrics.observeJournal(pending: q.pendingRequests, quarantined: q.quarantined)
        metrics.observeOutbound(pending: q.outboundPending, droppedTotal: Int(clamping: q.droppedTotal))
        if let speakers { metrics.observeSpeakers(up: speakers.speakers.count) }
        do {
            metrics.observeProcess(try ProcessStats.current())
        } catch {
            if !procProblemLogged.withLock({ logged in defer { logged = true }; return logged }) {
                logger.warning("admin: process_* metrics are not available: \(error)")
            }
        }
        return HelpLines.add(to: export.registry.emitToBuffer(), help: MetricName.help)
    }
}
