import Foundation
import Logging
import ServiceLifecycle

/// Home Assistant MQTT discovery as one service the daemon starts and stops (as zigbee2mqtt runs
/// its extensions): retained configs for the bridge and every speaker, through the outbound spool
/// so nothing is lost while offline; re-published on every connect, a short random while after
/// Home Assistant's birth message, and whenever the speakers or their drivers change; configs of a
/// speaker gone for `remove_after` are cleared with empty retained messages.
public final class HomeAssistantDiscovery: Service, Sendable {
    public struct Settings: Sendable {
        public var removeAfter: Double
        /// The discovery ledger (`<state_dir>/homeassistant.json`).
        public var ledgerPath: String

        public init(removeAfter: Double, ledgerPath: String) {
            self.removeAfter = removeAfter
            self.ledgerPath = ledgerPath
        }
    }

    let context: DiscoveryContext
    let settings: Settings
    let source: any HomeAssistantSpeakerSource
    let spool: Spool
    public let status: HomeAssistantStatus
    let sourceReady: Readiness<Void>?
    let publishInfo: @Sendable () -> Void
    /// The bridge's and the speakers' retained states, published again after a birth message.
    let states: @Sendable () -> [OutboundMessage]
    let logger: Logger
    let triggers: DiscoveryTriggers

    public init(context: DiscoveryContext, settings: Settings, source: any HomeAssistantSpeakerSource, spool: Spool,
                status: HomeAssistantStatus, triggers: DiscoveryTriggers, sourceReady: Readiness<Void>? = nil,
                publishInfo: @escaping @Sendable () -> Void = {}, states: @escaping @Sendable () -> [OutboundMessage] = { [] },
                logger: Logger) {
        self.context = context
        self.settings = settings
        self.source = source
        self.spool = spool
        self.status = status
        self.triggers = triggers
        self.sourceReady = sourceReady
        self.publishInfo = publishInfo
        self.states = states
        self.logger = logger
    }

    public func run() async throws {
        if let sourceReady { _ = try? await cancelWhenGracefulShutdown { try await sourceReady.wait() } }
        var round = DiscoveryRound(context: context, removeAfter: settings.removeAfter,
                                   ledger: DiscoveryLedger.load(path: settings.ledgerPath, logger: logger))
        let started = ContinuousClock.now
        // A gone speaker is not removed until its drivers had time to find it again after a start.
        let grace = Duration.milliseconds(Int(min(settings.removeAfter, 60) * 1000))
        var lastSave = ContinuousClock.now
        var retryAt = ContinuousClock.now
        var ticks = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let now = ContinuousClock.now
            let (force, birthDone) = triggers.take(now: now)
            var result = round.next(speakers: source.discoveredSpeakers, now: Date().timeIntervalSince1970,
                                    force: force, mayRemove: now - started >= grace,
                                    pending: force || ticks % 4 == 0 ? PendingAnnouncements.count(in: spool, topics: context.topics) : nil)
            // After the configs, so Home Assistant has subscribed to the state topics they name.
            if birthDone { result.messages += states() }
            var committed = false
            if result.messages.isEmpty {
                round.commit()
                committed = true
            } else if now >= retryAt {
                do {
                    try spool.publish(result.messages)
                    round.commit()
                    committed = true
                } catch {
                    // Not committed: a later round sends the same messages (a full disk must not
                    // fill the log four times a second).
                    logger.error("homeassistant: cannot queue \(result.messages.count) discovery messages, trying again in 10 s: \(error)")
                    retryAt = now + .seconds(10)
                }
            }
            if committed {
                for removed in result.removedSpeakers {
                    logger.notice("homeassistant: speaker \(removed) unseen for \(settings.removeAfter) s; its discovery configs are removed")
                }
                if birthDone { logger.info("homeassistant: birth message on \(context.prefix)/status: discovery and states re-published") }
            } else if force {
                triggers.connected()  // the re-publish is still owed
            }
            if (committed && result.ledgerChanged) || now - lastSave >= .seconds(60) {
                lastSave = now
                do { try round.ledger.save(path: settings.ledgerPath) } catch {
                    logger.error("homeassistant: cannot save \(settings.ledgerPath) (next try within a minute): \(error)")
                }
            }
            if status.setConfigs(round.configCount) || birthDone { publishInfo() }
            ticks += 1
            try? await Task.sleep(for: .milliseconds(250))
        }
        do { try round.ledger.save(path: settings.ledgerPath) } catch {
            logger.error("homeassistant: cannot save \(settings.ledgerPath): \(error)")
        }
    }
}
