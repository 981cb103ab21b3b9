import CMosquitto
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The host's one MQTT session as a service: runs `SessionLoop` on its own thread and, on graceful
/// shutdown, lets it publish `offline`, flush and disconnect cleanly before returning.
public final class MQTTSession: Service, Sendable {
    private let context: SessionContext
    private let stopFlag = AtomicFlag()
    private let brokerReady: Readiness<Void>?

    private static let libraryReady: Bool = {
        // mosquitto_lib_init is not thread-safe: run it once, before any session thread exists.
        mosquitto_lib_init()
        return true
    }()

    public init(config: Configuration, clientID: String, spool: Spool, intake: any MessageIntake,
                status: SessionStatusBox, wake: WakePipe, birth: @escaping @Sendable (SessionStatus) -> [OutboundMessage],
                heartbeat: (@Sendable (SessionStatus) -> OutboundMessage)? = nil,
                brokerCheck: (@Sendable () -> String?)? = nil, brokerReady: Readiness<Void>? = nil,
                watchdog: ServiceWatchdog? = nil, extraSubscriptions: [String] = [], logger: Logger) {
        _ = MQTTSession.libraryReady
        self.brokerReady = brokerReady
        let stopFlag = self.stopFlag
        status.update {
            $0.clientID = clientID
            $0.broker = config.brokerList[0].description
            $0.brokers = config.brokerList.map(\.description)
            $0.protocolVersion = config.mqtt.protocolChoice.preferred
        }
        context = SessionContext(
            config: config, clientID: clientID, spool: spool, intake: intake, status: status, wake: wake,
            logger: logger, birth: birth, heartbeat: heartbeat, subscriptions: Topics(base: config.baseTopic).subscriptions + extraSubscriptions,
            stopRequested: { stopFlag.isSet }, brokerCheck: brokerCheck, watchdog: watchdog)
    }

    /// With `brokerReady` (the embedded broker), the first connect waits for it: its start-up
    /// would otherwise count as failed attempts and push the first connect out by the backoff.
    public func run() async throws {
        if let brokerReady {
            // A broker that failed to start is the reconnect loop's to report, like any other.
            _ = try? await cancelWhenGracefulShutdown { try await brokerReady.wait() }
        }
        let (finished, done) = AsyncStream.makeStream(of: Void.self)
        let context = self.context
        let thread = Thread {
            SessionLoop(context: context).run()
            done.finish()
        }
        thread.name = "mqtt-session"
        thread.start()
        await withGracefulShutdownHandler {
            for await _ in finished {}
        } onGracefulShutdown: { [stopFlag, context] in
            stopFlag.set()
            context.wake.wake()
        }
    }
}
