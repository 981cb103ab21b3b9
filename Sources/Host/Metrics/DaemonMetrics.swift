import CoreMetrics
import Synchronization

/// The daemon's metrics, by their Prometheus names (`speakerbridge_` for ours, the standard
/// `process_*` ones for the process). Every one is a swift-metrics type made by the factory passed
/// in, never by a global `MetricsSystem.bootstrap`: the composition root gives a Prometheus factory,
/// tests and offline tools give none and record nothing.
///
/// Two kinds: events are recorded where they happen (an announcement ends, a plugin call times
/// out, a reload); states and totals that the daemon already keeps (the session's status, the
/// journal, the outbound queue, the speaker list, `/proc/self`) are brought in at scrape time by
/// the `observe…` calls, so `/metrics` and `speakerbridge health` read the same numbers.
public final class DaemonMetrics: Sendable {
    /// Histogram buckets by metric name, for the factory (`PrometheusMetricsFactory.durationHistogramBuckets`).
    /// Synthesis of a sentence takes milliseconds (a cached phrase far less); an announcement lasts
    /// as long as its queue wait plus the clip, seconds to minutes.
    public static let durationBuckets: [String: [Duration]] = [
        MetricName.synthesisDuration: [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                                       .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
                                       .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10)],
        MetricName.announcementDuration: [.milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
                                          .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
                                          .seconds(120), .seconds(300)],
    ]

    private let factory: any MetricsFactory
    private let announcementsDone: Counter
    private let announcementsFailed: Counter
    private let synthesis: CoreMetrics.Timer
    private let announcement: CoreMetrics.Timer
    private let connected: Gauge
    private let reconnects: TotalFollower
    private let disconnects: Mutex<[String: TotalFollower]> = Mutex([:])
    private let journalPending: Gauge
    private let journalQuarantined: Gauge
    private let outboundPending: Gauge
    private let outboundDropped: TotalFollower
    private let speakersUp: Gauge
    private let process: ProcessMetrics

    public init(factory: any MetricsFactory) {
        self.factory = factory
        // Both results exist from the start, so a rate over them is defined before the first one.
        announcementsDone = Counter(label: MetricName.announcements, dimensions: [("result", "done")], factory: factory)
        announcementsFailed = Counter(label: MetricName.announcements, dimensions: [("result", "failed")], factory: factory)
        synthesis = CoreMetrics.Timer(label: MetricName.synthesisDuration, factory: factory)
        announcement = CoreMetrics.Timer(label: MetricName.announcementDuration, factory: factory)
        connected = Gauge(label: MetricName.connected, factory: factory)
        reconnects = TotalFollower(label: MetricName.reconnects, factory: factory)
        journalPending = Gauge(label: MetricName.journalPending, factory: factory)
        journalQuarantined = Gauge(label: MetricName.journalQuarantined, factory: factory)
        outboundPending = Gauge(label: MetricName.outboundPending, factory: factory)
        outboundDropped = TotalFollower(label: MetricName.outboundDropped, factory: factory)
        speakersUp = Gauge(label: MetricName.speakersUp, factory: factory)
        process = ProcessMetrics(factory: factory)
    }

    // MARK: events, recorded where they happen

    /// An announcement reached its final event: `done` on every speaker, or `failed`.
    public func announcementFinished(done: Bool) {
        (done ? announcementsDone : announcementsFailed).increment()
    }

    /// From the request's acceptance to its final event (queue waits and playback included).
    public func announcementLasted(_ duration: Duration) { announcement.recordNanoseconds(duration.nanoseconds) }

    /// One speech synthesis by the TTS plugin, successful or not.
    public func synthesisTook(_ duration: Duration) { synthesis.recordNanoseconds(duration.nanoseconds) }

    /// A call into the plugin did not return within `plugins.call_timeout`.
    public func pluginCallTimedOut(plugin: String) {
        Counter(label: MetricName.pluginCallTimeouts, dimensions: [("plugin", plugin)], factory: factory).increment()
    }

    /// One file's reload: `outcome` is the reload answer's (loaded, reloaded, unloaded, failed).
    public func pluginReloaded(outcome: String) {
        Counter(label: MetricName.pluginReloads, dimensions: [("outcome", outcome)], factory: factory).increment()
    }

    // MARK: states and totals, brought in at scrape time

    public func observeConnection(connected isConnected: Bool, reconnects total: Int, disconnects byReason: [String: Int]) {
        connected.record(isConnected ? 1 : 0)
        reconnects.follow(Double(total))
        for (reason, count) in byReason {
            let follower = disconnects.withLock { d in
                if let known = d[reason] { return known }
                let made = TotalFollower(label: MetricName.disconnects, dimensions: [("reason", reason)], factory: factory)
                d[reason] = made
                return made
            }
            follower.follow(Double(count))
        }
    }

    public func observeJournal(pending: Int, quarantined: Int) {
        journalPending.record(pending)
        journalQuarantined.record(quarantined)
    }

    public func observeOutbound(pending: Int, droppedTotal: Int) {
        outboundPending.record(pending)
        outboundDropped.follow(Double(droppedTotal))
    }

    public func observeSpeakers(up: Int) { speakersUp.record(up) }

    public func observeProcess(_ stats: ProcessStats) { process.observe(stats) }
}

extension Duration {
    /// Whole nanoseconds (a duration of centuries would overflow; none here lasts that long).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
