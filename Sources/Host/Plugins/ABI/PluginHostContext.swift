import Foundation
import Logging
import PluginAPI
import Synchronization

/// Everything the host keeps for one instance of one generation of a plugin, reached from C through
/// `sb_host.host_data`. Owns what the instance registered (timers, operations), so a reload can
/// cancel all of it at once.
final class PluginHostContext: Sendable {
    let pluginID: String
    let generation: Int
    let logger: Logger
    let topics: Topics
    let publisher: any PluginPublisher
    let executor: PluginExecutor
    let operations: OperationTable
    let media: (any PluginMediaStore)?
    /// HTTP requests this instance started (cancelled with it).
    let http = PluginHTTP()
    /// UDP sockets this instance opened (closed with it).
    let udp: PluginUDP
    /// WebSockets this instance opened (closed with it).
    let websocket: PluginWebSocket
    /// Where callback routes go; nil without a media server.
    let routeHost: (any PluginRouteHost)?
    /// The plugin's settings for the settings service, and the C strings it handed out (which
    /// live as long as this context, so until after the instance is destroyed).
    let settings: PluginSettings
    let settingsStrings = PluginSettingsStrings()
    /// The instance's timers (the same implementation serves an isolated instance in its process).
    let timers: PluginTimers
    /// Set by `cancelAll`: no new callback routes after it.
    private let unloaded = Atomic<Bool>(false)
    /// Tells the registry to ask this plugin for its speakers now (a speaker came or went).
    private let speakersChanged: @Sendable () -> Void

    init(pluginID: String, generation: Int, logger: Logger, topics: Topics, publisher: any PluginPublisher,
         executor: PluginExecutor, operations: OperationTable, media: (any PluginMediaStore)?,
         network: PluginNetworkServices = .init(), settings: PluginSettings = .init([:]),
         speakersChanged: @escaping @Sendable () -> Void = {}) {
        self.speakersChanged = speakersChanged
        self.settings = settings
        self.media = media
        self.routeHost = network.routeHost
        udp = PluginUDP(label: "\(pluginID)#\(generation)", logger: logger, executor: executor,
                        defaultInterface: network.defaultInterface, offline: network.offline)
        websocket = PluginWebSocket(label: "\(pluginID)#\(generation)", logger: logger, executor: executor, offline: network.offline)
        self.pluginID = pluginID
        self.generation = generation
        self.logger = logger
        self.topics = topics
        self.publisher = publisher
        self.executor = executor
        self.operations = operations
        timers = PluginTimers(executor: executor)
    }

    // MARK: timers

    func startTimer(delayMs: UInt32, periodMs: UInt32, callback: PluginTimers.Callback) -> UInt64 {
        timers.start(delayMs: delayMs, periodMs: periodMs, callback: callback)
    }

    func cancelTimer(_ id: UInt64) {
        timers.cancel(id)
    }

    /// Cancels everything this generation registered: its timers, HTTP requests, UDP sockets,
    /// WebSockets, callback routes (those a newer generation has not taken over) and unfinished operations.
    func cancelAll(reason: String) {
        http.cancelAll()
        udp.closeAll()
        websocket.closeAll()
        unloaded.store(true, ordering: .releasing)
        routeHost?.routes.removeAll(owner: ObjectIdentifier(self))
        timers.cancelAll()
        operations.failAll(owner: ObjectIdentifier(self), reason: reason)
    }

    // MARK: routes

    /// Registers `path` for this instance and returns its id and absolute URL, which is shorter
    /// than `urlCapacity` bytes (else nothing is registered).
    func addRoute(path: String, urlCapacity: Int, callback: PluginRoutes.Callback) -> Result<(id: UInt64, url: String), HostServiceProblem> {
        guard let host = routeHost else { return .failure(.init(status: SB_ERR_UNSUPPORTED, description: "no HTTP server")) }
        if let problem = PluginRoutes.pathProblem(path) {
            logger.warning("plugin \(pluginID)#\(generation): route \(String(reflecting: path)) refused: \(problem)")
            return .failure(.init(status: SB_ERR_INVALID, description: problem))
        }
        let base: String
        do { base = try host.callbackBaseURL() } catch {
            logger.error("plugin \(pluginID)#\(generation): route \(path): \(error)")
            return .failure(.init(status: SB_ERR_FAILED, description: "\(error)"))
        }
        let normalized = PluginRoutes.normalized(path)
        let url = base + PluginRoutes.prefix + pluginID + "/" + normalized
        guard url.utf8.count < urlCapacity else {
            logger.warning("plugin \(pluginID)#\(generation): route \(normalized): the URL buffer is too small for \(url)")
            return .failure(.init(status: SB_ERR_INVALID, description: "url_size too small"))
        }
        switch host.routes.add(pluginID: pluginID, generation: generation, owner: ObjectIdentifier(self), path: normalized,
                               callback: callback, executor: executor, logger: logger,
                               admit: { !unloaded.load(ordering: .acquiring) }) {
        case .added(let id):
            logger.debug("plugin \(pluginID)#\(generation): route \(id) serves \(url)")
            return .success((id, url))
        case .heldByNewer(let newer):
            return .failure(.init(status: SB_ERR_BUSY, description: "generation \(newer) of the plugin serves \(normalized)"))
        case .refused:
            return .failure(.init(status: SB_ERR_BUSY, description: "the plugin is being unloaded"))
        }
    }

    func removeRoute(_ id: UInt64) {
        routeHost?.routes.remove(id, owner: ObjectIdentifier(self))
    }

    // MARK: publishing

    func publishState(speaker: String, json: String) -> Int32 {
        guard let value = try? JSONValue.parse(Array(json.utf8)), value.objectValue != nil else {
            logger.warning("plugin \(pluginID): speaker_state for \(speaker) is not a JSON object; not published")
            return SB_ERR_INVALID
        }
        publisher.publish(OutboundMessage(topic: "\(topics.base)/\(speaker)/state", json: value, retain: true))
        return SB_OK
    }

    func publishAvailability(speaker: String, online: Bool) -> Int32 {
        publisher.publish(OutboundMessage(topic: "\(topics.base)/\(speaker)/availability",
                                          payload: Array((online ? "online" : "offline").utf8), retain: true))
        speakersChanged()
        return SB_OK
    }

    func publishEvent(name: String, json: String) -> Int32 {
        guard let value = try? JSONValue.parse(Array(json.utf8)), value.objectValue != nil else { return SB_ERR_INVALID }
        publisher.publish(OutboundMessage(topic: "\(topics.base)/bridge/event/plugin/\(pluginID)/\(name)", json: value))
        return SB_OK
    }
}
