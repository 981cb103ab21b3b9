import Foundation
import NIOCore
import NIOPosix

/// A NOTIFY sent from the player's own address, as a real player's event comes from its IP: a driver
/// may accept events only from the speaker's address (the Sonos driver does), and AsyncHTTPClient
/// cannot choose the local address of its connection. One request per connection (`Connection:
/// close`); the answer's status code, or nil when none came within `timeout`.
enum NotifySender {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func send(group: EventLoopGroup, from source: String, to url: String, headers: [(String, String)], body: String,
                     timeout: TimeAmount) async -> Int? {
        guard let c = URLComponents(string: url), let host = c.host, let port = c.port,
              let local = try? SocketAddress(ipAddress: source, port: 0) else { return nil }
        let target = (c.percentEncodedPath.isEmpty ? "/" : c.percentEncodedPath) + (c.percentEncodedQuery.map { "?" + $0 } ?? "")
        let promise = group.next().makePromise(of: String.self)
        do {
            let channel = try await ClientBootstrap(group: group)
                .connectTimeout(timeout)
                .bind(to: local)
                .channelInitializer { channel in channel.pipeline.addHandler(StatusLineReader(promise: promise)) }
                .connect(host: host, port: port).get()
            let deadline = channel.eventLoop.scheduleTask(in: timeout) {
                promise.fail(Failure(description: "no answer"))
                channel.close(promise: nil)
            }
            var text = "NOTIFY \(target) HTTP/1.1\r\n"
            for (name, value) in headers { text += "\(name): \(value)\r\n" }
            text += "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
            try await channel.writeAndFlush(ByteBuffer(string: text)).get()
            let answer = try await promise.futureResult.get()
            deadline.cancel()
            channel.close(promise: nil)
            let fields = answer.split(separator: " ")
            return fields.count >= 2 ? Int(fields[1]) : nil
        } catch {
            promise.fail(error)
            return nil
        }
    }

    /// Collects the answer until its first line is complete (or the peer closes).
    private final class StatusLineReader: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        private let promise: EventLoopPromise<String>
        private var received = ""

        init(promise: EventLoopPromise<String>) { self.promise = promise }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            received += buffer.readString(length: buffer.readableBytes) ?? ""
            if let end = received.range(of: "\r\n") { promise.succeed(String(received[..<end.lowerBound])) }
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.succeed(received)
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: Error) {
            promise.fail(error)
            context.close(promise: nil)
        }
    }
}
