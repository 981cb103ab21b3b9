import Logging
import ServiceLifecycle

/// Takes recorded requests from the spool in arrival order, hands each to its handler, and marks it
/// done together with its answer (one spool write, so neither is lost nor doubled).
///
/// Before a request is dispatched the journal records an attempt; a request that was being
/// processed during `maxAttempts` unclean exits of the daemon is not run again but quarantined
/// (a dead letter, answered as failed), so one poisonous message cannot crash-loop the daemon.
public final class Router: Service, Sendable {
    private let spool: Spool
    private let intake: RequestIntake
    private let topics: Topics
    private let handlers: [String: any BridgeRequestHandler]
    private let announcer: any Announcer
    private let plugins: PluginRegistry?
    private let pluginsLoaded: Readiness<Void>?
    private let responses: ResponseTopicPolicy
    private let maxAttempts: Int
    private let metrics: DaemonMetrics?
    private let logger: Logger

    public init(spool: Spool, intake: RequestIntake, topics: Topics, handlers: [any BridgeRequestHandler],
                announcer: any Announcer, plugins: PluginRegistry? = nil, pluginsLoaded: Readiness<Void>? = nil,
                responses: ResponseTopicPolicy? = nil, maxAttempts: Int = 2, metrics: DaemonMetrics? = nil, logger: Logger) {
        self.metrics = metrics
        self.plugins = plugins
        self.pluginsLoaded = pluginsLoaded
        self.responses = responses ?? ResponseTopicPolicy(topics: topics, filters: [])
        self.maxAttempts = maxAttempts
        self.spool = spool
        self.intake = intake
        self.topics = topics
        self.handlers = Dictionary(handlers.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        self.announcer = announcer
        self.logger = logger
    }

    public func run() async throws {
        var last: UInt64 = 0
        // Commands for plugins wait until the plugins are loaded instead of failing as unknown.
        if let pluginsLoaded {
            _ = try? await cancelWhenGracefulShutdown { try await pluginsLoaded.wait() }
        }
        // Slow requests run concurrently (each plugin has its own serial executor, and one that
        // hangs must not hold up the rest); everything else is answered in arrival order.
        await withDiscardingTaskGroup { group in
            for await _ in intake.doorbell.cancelOnGracefulShutdown() {
                while true {
                    let batch = spool.pendingRequests(after: last)
                    if batch.isEmpty { break }
                    // The request whose attempt the previous completion already recorded.
                    var begun: UInt64? = nil
                    for (i, request) in batch.enumerated() {
                        last = request.seq
                        let exits = spool.uncleanExits(of: request.seq)
                        if exits >= maxAttempts {
                            quarantine(request, exits: exits)
                            continue
                        }
                        if begun != request.seq { spool.beginAttempt(request.seq) }
                        begun = nil
                        if runsBeside(request) {
                            group.addTask { _ = await self.answer(request) }
                        } else {
                            // The next request's attempt rides on this one's completion: one write
                            // per request on the ordered path, as before attempts were recorded.
                            let next = i + 1 < batch.count ? batch[i + 1].seq : nil
                            if await answer(request, beginning: next) { begun = next }
                        }
                    }
                }
            }
        }
        // Before the plugins go: announcements still queued stay unfinished in the journal.
        announcer.stop()
        spool.recordCleanStop()
        logger.info("router: stopped")
    }

    private func quarantine(_ request: InboundRequest, exits: Int) {
        let reason = "quarantined: the daemon stopped \(exits) times while processing it"
        logger.error("router: request \(request.seq) on \(request.topic) is \(reason); it is kept as a dead letter (speakerbridge journal list / retry \(request.seq) / drop \(request.seq))")
        let refusal = RequestRefusal(topics: topics, responses: responses)
        let messages = refusal.messages(route: topics.route(request.topic), payload: request.payload,
                                        responseTopic: request.responseTopic, correlationData: request.correlationData,
                                        reason: reason)
        do {
            try spool.quarantine(request.seq, publishing: messages)
        } catch {
            logger.critical("router: cannot record the quarantine of request \(request.seq): \(error)")
        }
    }

    /// Processes and records the outcome; true when the completion also began `next`'s attempt.
    private func answer(_ request: InboundRequest, beginning next: UInt64? = nil) async -> Bool {
        let (messages, finished) = await process(request)
        var retry = 0.05
        while true {
            do {
                var begun = false
                if finished {
                    begun = try spool.complete(request.seq, publishing: messages, beginning: next)
                } else {
                    // An announcement in progress: its first events go out now; the announcer marks
                    // the request done when the speakers have finished.
                    try spool.publish(messages)
                }
                if retry > 0.05 { logger.notice("router: recorded the outcome of request \(request.key) after all") }
                return begun
            } catch {
                // A full disk or an I/O error. The request stays pending in the journal; retry until
                // the write works (nothing new can be recorded meanwhile anyway) instead of leaving it
                // unanswered until a restart. When stopping, it is processed again after the next start.
                if retry == 0.05 { logger.critical("router: cannot record the outcome of request \(request.key), retrying: \(error)") }
                if Task.isShuttingDownGracefully || Task.isCancelled { return false }
                try? await Task.sleep(for: .seconds(retry))
                retry = min(retry * 2, 2)
            }
        }
    }

    /// Requests that may take long run beside the ordered path, so health and new announcements
    /// never wait behind them: a plugin's command or a speaker's (each calls into a driver) and
    /// any handler that says it is slow.
    private func runsBeside(_ request: InboundRequest) -> Bool {
        switch topics.route(request.topic) {
        case .bridgeRequest(let name): name.hasPrefix("plugin/") || handlers[name]?.isSlow == true
        case .speakerCommand: true
        default: false
        }
    }

    /// What to publish in answer to one request, and whether that finishes it.
    func process(_ request: InboundRequest) async -> (messages: [OutboundMessage], finished: Bool) {
        switch topics.route(request.topic) {
        case .bridgeRequest(let name):
            return ([await answerBridgeRequest(name: name, request)], true)
        case .speak(let speaker):
            let acceptance: AnnouncementAcceptance
            do {
                let speak = try SpeakRequest.parse(request.payload, speakerFromTopic: speaker)
                acceptance = await announcer.accept(speak, requestSeq: request.seq)
            } catch {
                logger.info("router: rejected announcement on \(request.topic): \(error.reason)")
                acceptance = .final([AnnouncementEvent(id: error.id, state: .failed, speakers: speaker.map { [$0] } ?? [], reason: error.reason)])
            }
            // Refused at once (bad request, unknown speaker, full queue): the announcer never saw
            // it to the end, so it is counted here.
            if acceptance.finished {
                for event in acceptance.events where event.state == .done || event.state == .failed {
                    metrics?.announcementFinished(done: event.state == .done)
                }
            }
            return (acceptance.events.map { $0.message(topics) }, acceptance.finished)
        case .speakerCommand(let speaker):
            let body: JSONValue
            do {
                let parsed = try BridgeRequest.parse(name: "set", payload: request.payload)
                var fields = parsed.fields
                fields["transaction"] = nil
                if let plugins {
                    body = Router.envelope(await plugins.speakerCommand(speaker: speaker, fields: fields), transaction: parsed.transaction)
                } else {
                    body = Envelope.error("unknown speaker '\(speaker)': no speaker driver is loaded", transaction: parsed.transaction)
                }
            } catch {
                body = Envelope.error(error.message, transaction: error.transaction)
            }
            return ([Envelope.reply(body, to: request, defaultTopic: topics.setResponse(speaker), policy: responses)], true)
        case .unknown:
            logger.warning("router: no route for \(request.topic)")
            return ([], true)
        }
    }

    static func envelope(_ result: (CommandOutcome, generation: Int?), transaction: JSONValue?) -> JSONValue {
        var body: JSONValue
        switch result.0 {
        case .ok(let data): body = Envelope.ok(data, transaction: transaction)
        case .error(let message): body = Envelope.error(message, transaction: transaction)
        }
        // Which build answered: during a hot reload, every answer names its generation.
        if case .object(var o) = body, let g = result.generation {
            o["generation"] = .number(Double(g))
            body = .object(o)
        }
        return body
    }

    private func answerBridgeRequest(name: String, _ request: InboundRequest) async -> OutboundMessage {
        let body: JSONValue
        do throws(BridgeRequest.Invalid) {
            let parsed = try BridgeRequest.parse(name: name, payload: request.payload)
            if name.hasPrefix("plugin/"), let plugins {
                let parts = name.split(separator: "/", maxSplits: 2).map(String.init)
                guard parts.count == 3 else {
                    throw BridgeRequest.Invalid(message: "a plugin command is plugin/<plugin id>/<command>", transaction: parsed.transaction)
                }
                var arguments = parsed.fields
                arguments["transaction"] = nil
                body = Router.envelope(await plugins.invoke(plugin: parts[1], command: parts[2], arguments: arguments),
                                       transaction: parsed.transaction)
            } else if let handler = handlers[name] {
                do {
                    body = Envelope.ok(try await handler.handle(parsed), transaction: parsed.transaction)
                } catch {
                    body = Envelope.error(error.message, transaction: parsed.transaction)
                }
            } else {
                let known = handlers.keys.sorted().joined(separator: ", ")
                body = Envelope.error("unknown request '\(name)'; known requests: \(known)", transaction: parsed.transaction)
            }
        } catch {
            body = Envelope.error(error.message, transaction: error.transaction)
        }
        return Envelope.reply(body, to: request, defaultTopic: topics.response(name), policy: responses)
    }
}
