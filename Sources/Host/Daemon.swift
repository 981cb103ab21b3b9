import Foundation
import Logging
import ServiceLifecycle

/// Wires the daemon's services together and runs them until SIGTERM/SIGINT.
///
/// Services stop in reverse order: the router finishes the request in hand, the session flushes,
/// says `offline` and disconnects, and only then does the embedded broker go down.
public enum Daemon {
    /// `logLines`: the log handler's memory of recent lines (the `log` request, the status page).
    public static func run(config: Configuration, logger: Logger, logLines: LogLines = LogLines()) async throws {
        var config = config
        // Before any child process starts: the variables are ours, not the embedded broker's.
        let serviceEnvironment = ServiceManagerEnvironment.take()
        let serviceManager = ServiceNotifier(environment: serviceEnvironment, logger: logger)
        let state = try StateDirectory(path: config.stateDirectory)
        let clientID = try config.mqtt.clientID ?? state.clientID()
        let wake = WakePipe()
        let spool = try Spool(directory: state.path, durability: config.journal.durability,
                              maxOutbound: config.outbound.maxMessages, dedupWindow: config.journal.dedupWindow,
                              logger: logger, outboundAvailable: { wake.wake() })
        let topics = Topics(base: config.baseTopic)
        let responses = ResponseTopicPolicy(topics: topics, filters: config.mqtt.responseTopics)
        // The metrics the parts record into, rendered by the admin listener at /metrics.
        let export = PrometheusExport()
        let intake = RequestIntake(spool: spool, topics: topics,
                                   limits: .init(maxPayload: config.mqtt.maxPayload, maxPending: config.journal.maxPending),
                                   responses: responses, metrics: export.metrics, logger: logger)
        let status = SessionStatusBox(SessionStatus())
        let startedAt = Date()
        let pluginRoutes = PluginRoutes(maxConcurrentRequests: config.media.maxCallbackRequests)
        let mediaServer = MediaServer(
            settings: .init(bindHosts: MediaListenAddresses.resolve(bind: config.media.bind, interface: config.network.interface, logger: logger),
                            port: config.media.port, advertisedHost: config.media.advertise,
                            limits: .init(maxConnections: config.media.maxConnections, maxConnectionsPerHost: config.media.maxConnectionsPerHost, headerTimeout: config.media.headerTimeout,
                                          idleTimeout: config.media.idleTimeout)),
            store: MediaStore(maxTotalBytes: config.media.maxBytes),
            routes: pluginRoutes, logger: logger)
        let media = MediaPublishing(server: mediaServer, routes: pluginRoutes)
        let (pluginChanges, pluginChanged) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let retainedStates = RetainedStates()
        let registry = PluginRegistry(
            settings: .init(directories: config.pluginDirectories, cacheDirectory: state.path + "/plugin-cache",
                            callTimeout: config.plugins.callTimeout, operationTimeout: config.plugins.operationTimeout,
                            isolation: config.plugins.isolation, isolationOverrides: config.plugins.isolationOverrides,
                            memoryLimitMB: config.plugins.memoryLimitMB, openFilesLimit: config.plugins.openFilesLimit),
            topics: topics, publisher: SpoolPublisher(spool: spool, retained: retainedStates, logger: logger), media: media,
            network: PluginNetworkServices(defaultInterface: config.network.interface, routeHost: media), logger: logger,
            changed: { pluginChanged.yield() }, metrics: export.metrics)
        // Home Assistant discovery: its state for bridge/info, and the connects and births that make it re-publish.
        let homeAssistant = config.homeAssistant
        let haStatus = HomeAssistantStatus(enabled: homeAssistant.enabled, prefix: homeAssistant.discoveryPrefix)
        let haTriggers = DiscoveryTriggers(status: haStatus)
        let info = BridgeInfo(config: config, clientID: clientID, startedAt: startedAt, plugins: registry,
                              homeAssistant: { haStatus.json })
        // The status page: everything the daemon publishes, and requests through the same intake.
        let liveFeed = LiveFeed(topics: topics)
        spool.observeOutbound { liveFeed.published($0) }
        let pageAPI = PageAPI(feed: liveFeed, intake: intake, topics: topics, maxPayload: config.mqtt.maxPayload,
                              snapshot: { info.birthMessages(status.current) + retainedStates.all }, logger: logger)
        let adminServer = config.admin.bind.isEmpty ? nil
            : try AdminServer(settings: .init(bind: config.admin.bind, port: config.admin.port), export: export,
                              status: status, spool: spool, speakers: registry.directory, plugins: registry,
                              access: AdminAccess(token: config.admin.token), page: pageAPI, logger: logger)
        let brokerStatus = config.usesEmbeddedBroker ? EmbeddedBrokerStatusBox() : nil
        // The embedded broker is up (or `run` has failed with the reason) before anything connects.
        let embeddedBroker = brokerStatus.map {
            EmbeddedBroker(config: config, directory: state.brokerDirectory, logger: logger, status: $0)
        }
        if let embeddedBroker {
            let login = try await embeddedBroker.start()
            config.mqtt.username = login.username
            config.mqtt.password = login.password
        }

        var brokerCheck: (@Sendable () -> String?)? = nil
        if let embeddedBroker { brokerCheck = { embeddedBroker.listenerProblem() } }
        let session = MQTTSession(config: config, clientID: clientID, spool: spool,
                                  intake: homeAssistant.enabled
                                      ? BirthIntake(prefix: homeAssistant.discoveryPrefix, next: intake, birth: { haTriggers.birth() }) as any MessageIntake : intake,
                                  status: status, wake: wake,
                                  // The session sends its birth straight to the broker; an open page sees it too.
                                  birth: { haTriggers.connected(); let birth = info.birthMessages($0); liveFeed.published(birth); return birth },
                                  // Only the state: a heartbeat is no (re)connect for Home Assistant's discovery.
                                  heartbeat: { OutboundMessage(topic: topics.bridgeState, json: info.stateDocument($0), retain: false) },
                                  brokerCheck: brokerCheck, brokerReady: embeddedBroker?.ready,
                                  watchdog: ServiceWatchdog(environment: serviceEnvironment, notifier: serviceManager),
                                  extraSubscriptions: homeAssistant.enabled ? ["\(homeAssistant.discoveryPrefix)/status"] : [], logger: logger)
        // bridge/info again when what it says changes (plugins loaded, discovery published).
        let publishInfo: @Sendable () -> Void = {
            // While disconnected the next connect's birth carries the info; one queued now would
            // name the broker being tried and go out after that birth, replacing it.
            guard status.current.connected else { return }
            do { try spool.publish([info.infoMessage(status.current)]) } catch {
                logger.error("cannot queue bridge/info: \(error)")
            }
        }
        let handlers: [any BridgeRequestHandler] = [
            HealthHandler(config: config, status: status, spool: spool, broker: brokerStatus, startedAt: startedAt, plugins: registry),
            InfoHandler(info: info, status: status),
            PluginListHandler(registry: registry),
            PluginReloadHandler(registry: registry),
            PlayHandler(registry: registry),
            VoicesHandler(registry: registry),
            JournalHandler(spool: spool, intake: intake),
            LogRequestHandler(lines: logLines),
        ]
        let plugins = PluginService(registry: registry, watch: config.plugins.watch, interval: config.plugins.watchInterval,
                                    changes: pluginChanges,
                                    startsAfter: mediaServer.running,
                                    publishInfo: publishInfo, serviceManager: serviceManager, logger: logger)
        let router = Router(spool: spool, intake: intake, topics: topics, handlers: handlers,
                            announcer: SpeechAnnouncer(directory: registry.directory, backend: registry, spool: spool,
                                                       topics: topics, addressing: media,
                                                       maxQueue: config.announcements.maxQueue, metrics: export.metrics, logger: logger),
                            plugins: registry, pluginsLoaded: plugins.loaded, responses: responses, maxAttempts: config.journal.maxAttempts, metrics: export.metrics, logger: logger)

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let embeddedBroker { services.append(.init(service: embeddedBroker)) }
        services.append(.init(service: session))
        services.append(.init(service: mediaServer))
        if let adminServer { services.append(.init(service: adminServer)) }
        services.append(.init(service: plugins))
        services.append(.init(service: router))
        // After the router, so it hears of a stop before the router waits for plugin calls in hand.
        services.append(.init(service: PluginStopNotice(registry: registry)))
        if homeAssistant.enabled {
            services.append(.init(service: HomeAssistantDiscovery(
                context: DiscoveryContext(prefix: homeAssistant.discoveryPrefix, baseTopic: config.baseTopic, clientID: clientID),
                settings: .init(removeAfter: homeAssistant.removeAfter, ledgerPath: state.path + "/homeassistant.json"),
                source: registry, spool: spool, status: haStatus, triggers: haTriggers, sourceReady: plugins.loaded,
                publishInfo: publishInfo, states: { info.birthMessages(status.current) + retainedStates.all }, logger: logger)))
        }
        if serviceManager.isListening {
            // Last, so it is the first to hear of a shutdown and says STOPPING=1 at once.
            services.append(.init(service: ServiceStateReporter(
                notifier: serviceManager,
                current: {
                    let session = status.current
                    return ServiceStatusLine(connected: session.connected, broker: session.broker,
                                             lastProblem: session.lastDisconnect.map { "\($0.name): \($0.explanation)" },
                                             pluginsLoaded: plugins.loaded.isReady, speakers: registry.directory.speakers.count)
                },
                changes: status.changes(), waitsFor: [plugins.loaded])))
        }
        let brokers = config.brokerList.map(\.description)
        let whereTo = brokers.count > 1 ? "brokers \(brokers.joined(separator: ", ")) (tried in this order)" : "broker \(brokers[0])"
        let version = config.mqtt.protocolChoice == .auto ? "auto (5, else 3.1.1)" : config.mqtt.protocolChoice.rawValue
        logger.info("speakerbridge \(SpeakerbridgeVersion.current) starting: base topic \(config.baseTopic), \(whereTo)\(config.usesEmbeddedBroker ? " (embedded)" : ""), MQTT \(version), state in \(state.path)")
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: logger))
        try await group.run()
        withExtendedLifetime(state) {}
        logger.info("speakerbridge stopped")
    }
}
