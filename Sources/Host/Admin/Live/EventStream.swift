import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle

/// `GET /api/events`: one page's stream of server-sent events. First the replay (the retained
/// messages of now and the last announcements' events), then `event: ready`, then every message
/// as the daemon records it; a `: keepalive` comment every 10 s, so the admin listener's idle
/// timeout (15 s) never takes a quiet stream for a dead one, and a client that left is noticed.
///
/// The stream ends when the client leaves, when it falls too far behind (its page reconnects and
/// replays), and at the daemon's graceful shutdown: the admin listener waits for its open
/// responses, and a stream that never ended would hold the daemon's stop until it is killed.
struct EventStream: Sendable {
    let feed: LiveFeed
    let snapshot: @Sendable () -> [OutboundMessage]
    var keepaliveInterval: Duration = .seconds(10)
    let logger: Logger

    func response() -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-store"
        // A reverse proxy in front (nginx) must pass each event on at once, not buffer the stream.
        headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            try await self.run(&writer)
        })
    }

    private func run(_ writer: inout any ResponseBodyWriter) async throws {
        // Subscribed before the snapshot is taken: a message recorded in between is in the live
        // part (perhaps twice, which a page that keeps the latest value per topic shrugs off),
        // never lost.
        let (history, subscription) = feed.subscribe { [feed, logger] in
            logger.notice("status page: an event stream fell too far behind (\(feed.maxBehind) messages or \(feed.maxBehindBytes >> 20) MiB waiting) and was cut off; its page reconnects and replays (\(feed.cutOffTotal) cut off so far)")
        }
        defer { feed.unsubscribe(subscription) }
        // The stream is written by a child task that a graceful shutdown cancels: waiting for the
        // next message, it ends the stream cleanly; stuck in a write to a client that stopped
        // reading, the write gives up at once (it would wait for the 15 s idle timeout, longer
        // than the daemon's whole stop may take). Unchecked: the copy is used by that child task
        // only, while this task waits for it; Hummingbird's body writer is a Sendable struct
        // over NIO's Sendable channel writer, so the copy writes to the same response.
        let shared = Unchecked(writer)
        try await cancelWhenGracefulShutdown { [self] in
            var writer = shared.value
            try await withThrowingTaskGroup(of: Void.self) { group in
                let interval = keepaliveInterval
                group.addTask {
                    while true {
                        try await Task.sleep(for: interval)
                        subscription.keepalive()
                    }
                }
                defer { group.cancelAll() }
                try await replay(history, to: &writer)
                try await forward(subscription, to: &writer)
            }
        }
        try await writer.finish(nil)
    }

    private func replay(_ history: [OutboundMessage], to writer: inout any ResponseBodyWriter) async throws {
        let messages = snapshot() + history
        var chunk: [UInt8] = []
        for (i, message) in messages.enumerated() {
            ServerSentEvent.append(message, to: &chunk)
            if chunk.count >= 64 << 10 || i == messages.count - 1 {
                try await writer.write(ByteBuffer(bytes: chunk))
                chunk.removeAll(keepingCapacity: true)
            }
        }
        try await writer.write(ByteBuffer(string: ServerSentEvent.ready))
    }

    private func forward(_ subscription: FeedSubscription, to writer: inout any ResponseBodyWriter) async throws {
        while true {
            switch await subscription.next() {
            case .messages(let messages):
                var chunk: [UInt8] = []
                for message in messages { ServerSentEvent.append(message, to: &chunk) }
                try await writer.write(ByteBuffer(bytes: chunk))
            case .keepalive:
                try await writer.write(ByteBuffer(string: ServerSentEvent.keepalive))
            case .ended:
                return
            }
        }
    }
}
