import Hummingbird
import Logging
import NIOCore
import NIOPosix

/// The status page's two API paths on the admin listener: `GET /api/events` (server-sent events
/// carrying the MQTT contract's messages) and `POST /api/request` (a request of the MQTT contract,
/// recorded by the same intake as one from the broker). Access is checked before it is called.
///
/// The page is a client of the MQTT contract, not a second API: a request posted here is
/// journalled, limited, deduplicated and answered like one published to the broker, and its
/// answer (on the contract's default response topic) reaches the page through the event stream,
/// and every MQTT subscriber too.
public final class PageAPI: Sendable {
    private let events: EventStream
    private let intake: RequestIntake
    private let topics: Topics
    private let maxPayload: Int
    private let logger: Logger

    public init(feed: LiveFeed, intake: RequestIntake, topics: Topics, maxPayload: Int,
                snapshot: @escaping @Sendable () -> [OutboundMessage], logger: Logger) {
        events = EventStream(feed: feed, snapshot: snapshot, logger: logger)
        self.intake = intake
        self.topics = topics
        self.maxPayload = maxPayload
        self.logger = logger
    }

    /// The envelope around a payload of `mqtt.max_payload` bytes: topic, field names, escapes.
    static let envelopeAllowance = 4 << 10

    /// The answer for `path` (`/api/...`, without the query), or nil when it is not an API path.
    func respond(to request: Request, path: Substring) async -> Response? {
        switch path {
        case "/api/events":
            guard request.method == .get else { return Self.methodNotAllowed(allow: "GET") }
            return events.response()
        case "/api/request":
            guard request.method == .post else { return Self.methodNotAllowed(allow: "POST") }
            return await submit(request)
        default:
            return nil
        }
    }

    private func submit(_ request: Request) async -> Response {
        // JSON only: a cross-site form cannot send it without a CORS preflight, which is never answered.
        let type = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard type == "application/json" else {
            return Self.error(.unsupportedMediaType, "Content-Type must be application/json, got \(request.headers[.contentType] ?? "none")")
        }
        let limit = maxPayload + Self.envelopeAllowance
        let tooLarge = "the body is larger than \(limit) bytes (mqtt.max_payload \(maxPayload) and \(Self.envelopeAllowance) for the envelope)"
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            return Self.error(.contentTooLarge, tooLarge)
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            return Self.error(.contentTooLarge, tooLarge)
        } catch {
            return Self.error(.badRequest, "the body could not be read: \(error)")
        }
        let parsed: PageRequest
        do {
            parsed = try PageRequest.parse(Array(buffer: body), topics: topics)
        } catch {
            logger.debug("status page: refused a request: \(error.message)")
            return Self.error(.badRequest, error.message)
        }
        // QoS 0 for the intake: a request without its own id or transaction is never taken for a
        // broker redelivery (all would have packet id 0), so the same text posted twice is spoken
        // twice, as with MQTT QoS 0; with an id or transaction it is processed once, as always.
        // The journal write (and its fsync) runs on NIO's pool for blocking work, not on one of the
        // few threads all of the daemon's tasks share: a script posting fast would hold them.
        let recorded = (try? await NIOThreadPool.singleton.runIfActive { [intake] in
            parsed.payload.withUnsafeBytes {
                intake.receive(topic: parsed.topic, payload: $0, qos: 0, mid: 0, responseTopic: nil, correlationData: nil)
            }
        }) ?? false
        guard recorded else {
            return Self.error(.serviceUnavailable, "the request could not be recorded (see the daemon's log: the journal cannot be written); try again later")
        }
        if parsed.payload.count > maxPayload {
            // The intake refused it and answered on the contract's topics; the poster hears it too.
            return Self.error(.contentTooLarge, "the message is \(parsed.payload.count) bytes; mqtt.max_payload allows at most \(maxPayload) bytes")
        }
        return Self.json(.accepted, ["status": "accepted"])
    }

    /// The MQTT contract's error envelope (`Envelope.error`), as an HTTP answer.
    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        json(status, Envelope.error(message, transaction: nil))
    }

    static func json(_ status: HTTPResponse.Status, _ value: JSONValue) -> Response {
        let bytes = Array((value.serialized() + "\n").utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.contentLength] = String(bytes.count)
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    private static func methodNotAllowed(allow: String) -> Response {
        var response = error(.methodNotAllowed, "method not allowed: use \(allow)")
        response.headers[.allow] = allow
        return response
    }
}
