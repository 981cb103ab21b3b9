import Logging
import ServiceLifecycle

/// Takes recorded requests from the spool in arrival order, hands each to its handler, and marks it
/// done together with its answer (one spool write, so neither is lost nor doubled).
public final class Router: Service, Sendable {
    private let spool: Spool
    private let intake: RequestIntake
    private let topics: Topics
    private let handlers: [String: any BridgeRequestHandler]
    private let announcer: any Announcer
    private let logger: Logger

    public init(spool: Spool, intake: RequestIntake, topics: Topics, handlers: [any BridgeRequestHandler],
                announcer: any Announcer, logger: Logger) {
        self.spool = spool
        self.intake = intake
        self.topics = topics
        self.handlers = Dictionary(handlers.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        self.announcer = announcer
        self.logger = logger
    }

    public func run() async throws {
        var last: UInt64 = 0
        for await _ in intake.doorbell.cancelOnGracefulShutdown() {
            while true {
                let batch = spool.pendingRequests(after: last)
                if batch.isEmpty { break }
                for request in batch {
                    let answer = await process(request)
                    do {
                        try spool.complete(request.seq, publishing: answer)
                    } catch {
                        // Left pending in the spool: processed again after the next start.
                        logger.critical("router: cannot record the outcome of request \(request.key): \(error)")
                    }
                    last = request.seq
                }
            }
        }
        logger.info("router: stopped")
    }

    /// What to publish in answer to one request.
    func process(_ request: InboundRequest) async -> [OutboundMessage] {
        switch topics.route(request.topic) {
        case .bridgeRequest(let name):
            return [await answerBridgeRequest(name: name, request)]
        case .speak(let speaker):
            let events: [AnnouncementEvent]
            do {
                let speak = try SpeakRequest.parse(request.payload, speakerFromTopic: speaker)
                events = await announcer.accept(speak)
            } catch {
                logger.info("router: rejected announcement on \(request.topic): \(error.reason)")
                events = [AnnouncementEvent(id: error.id, state: .failed, speakers: speaker.map { [$0] } ?? [], reason: error.reason)]
            }
            return events.map { $0.message(topics) }
        case .speakerCommand(let speaker):
            let transaction = (try? BridgeRequest.parse(name: "set", payload: request.payload))?.transaction
            let body = Envelope.error("unknown speaker '\(speaker)': no speaker driver is loaded", transaction: transaction)
            return [Envelope.reply(body, to: request, defaultTopic: topics.setResponse(speaker))]
        case .unknown:
            logger.warning("router: no route for \(request.topic)")
            return []
        }
    }

    private func answerBridgeRequest(name: String, _ request: InboundRequest) async -> OutboundMessage {
        let body: JSONValue
        do {
            let parsed = try BridgeRequest.parse(name: name, payload: request.payload)
            if let handler = handlers[name] {
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
        return Envelope.reply(body, to: request, defaultTopic: topics.response(name))
    }
}
