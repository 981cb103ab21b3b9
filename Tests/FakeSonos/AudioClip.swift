import Foundation
import LabKit
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import Synchronization

// The Sonos local API as an S2 player serves it on port 1443 (here: an ephemeral port on
// 127.0.0.1, never any other address), for players created with `audioClip: true`:
//
//   GET /api/v1/players/local/info      capabilities (AUDIO_CLIP), playerId, websocketUrl
//   wss /websocket/api                  X-Sonos-Api-Key + subprotocol v1.api.smartspeaker.audio;
//                                       [header, body] JSON messages: loadAudioClip, audioClipStatus
//
// A clip plays over the music: the player ducks, its UPnP transport (queue, track, position) is
// not touched and sends no event. The clip is fetched like a real player does (ClipFetcher),
// then ACTIVE, and DONE after its duration (ERROR when it cannot be fetched or decoded).

/// One loadAudioClip the player accepted (or refused, with `failAudioClip`).
public struct AudioClipRecord: Sendable, Equatable {
    public let id: String
    public let url: String
    public let volume: Int?
    public let priority: String?
    public let clipType: String?
    public let appId: String?
    /// ACTIVE, DONE, ERROR; REFUSED when the player answered success:false.
    public var status: String
    /// The fetch of `url` (nil until it is done, and for refused clips).
    public var fetched: FetchedClip?
}

/// The well-known key every local-API client sends.
public let sonosLocalAPIKey = "123e4567-e89b-12d3-a456-426655440000"

struct AudioClipState {
    var clips: [AudioClipRecord] = []
    var fail = false
    var infoRequests = 0
    var rejectedHandshakes: [String] = []
}

/// The TLS context all fake players share: a throw-away certificate (LabKit's test PKI) made
/// once per process. The driver does not verify it, exactly as with a real player's.
enum AudioClipTLS {
    private static let made = Mutex<Result<NIOSSLContext, Error>?>(nil)

    static func context() throws -> NIOSSLContext {
        try made.withLock { cached -> NIOSSLContext in
            if let cached { return try cached.get() }
            let result = Result<NIOSSLContext, Error> {
                let dir = try TempDirectory(prefix: "fakesonos-tls")
                let pki = try TestPKI.make(in: dir.path, serverNames: ["localhost"], serverIPs: ["127.0.0.1"])
                let chain = try NIOSSLCertificate.fromPEMFile(pki.serverCert).map { NIOSSLCertificateSource.certificate($0) }
                let key = try NIOSSLPrivateKey(file: pki.serverKey, format: .pem)
                let context = try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: chain,
                                                                                       privateKey: .privateKey(key)))
                dir.remove()
                return context
            }
            cached = result
            return try result.get()
        }
    }
}

/// One player's local-API server.
final class AudioClipServer: Sendable {
    let core: HouseholdCore
    let index: Int
    let state = Mutex(AudioClipState())
    private let listener = Mutex<Channel?>(nil)
    private let connections = Mutex<[ObjectIdentifier: Channel]>([:])
    private let boundPort = Mutex(0)

    init(core: HouseholdCore, index: Int) {
        self.core = core
        self.index = index
    }

    var port: Int { boundPort.withLock { $0 } }

    /// Binds 127.0.0.1:`port` (0 = ephemeral) and returns the bound port.
    func start(port: Int = 0) async throws -> Int {
        let tls = try AudioClipTLS.context()
        let channel = try await ServerBootstrap(group: core.group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try self.configure(channel, tls: tls)
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        let bound = channel.localAddress?.port ?? port
        listener.withLock { $0 = channel }
        boundPort.withLock { $0 = bound }
        return bound
    }

    func stop() async {
        guard let l = listener.withLock({ value -> Channel? in
            let l = value
            value = nil
            return l
        }) else { return }
        try? await l.close()
        for c in connections.withLock({ Array($0.values) }) { try? await c.close() }
    }

    private func configure(_ channel: Channel, tls: NIOSSLContext) throws {
        let id = ObjectIdentifier(channel)
        connections.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { [self] _ in _ = connections.withLock { $0.removeValue(forKey: id) } }
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(NIOSSLServerHandler(context: tls))
        let http = LocalAPIHTTPHandler(server: self)
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: 1 << 20,
            shouldUpgrade: { [self] channel, head in
                channel.eventLoop.makeSucceededFuture(self.handshake(head))
            },
            upgradePipelineHandler: { [self] channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AudioClipSocketHandler(server: self))
                }
            })
        try sync.configureHTTPServerPipeline(
            withServerUpgrade: (upgraders: [upgrader], completionHandler: { [bound = NIOLoopBound(http, eventLoop: channel.eventLoop)] context in
                context.pipeline.syncOperations.removeHandler(bound.value, promise: nil)
            }))
        try sync.addHandler(http)
    }

    /// The upgrade's checks: the path, the API key, the subprotocol. nil refuses (the request
    /// then reaches the HTTP handler, which answers 403).
    private func handshake(_ head: HTTPRequestHead) -> HTTPHeaders? {
        let path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "")
        let protocols = head.headers[canonicalForm: "Sec-WebSocket-Protocol"].map { String($0) }
        var why: String?
        if path != "/websocket/api" {
            why = "path \(path)"
        } else if head.headers.first(name: "X-Sonos-Api-Key") != sonosLocalAPIKey {
            why = "X-Sonos-Api-Key missing or wrong"
        } else if !protocols.contains("v1.api.smartspeaker.audio") {
            why = "subprotocol v1.api.smartspeaker.audio not offered (\(protocols))"
        }
        if let why {
            state.withLock { $0.rejectedHandshakes.append(why) }
            return nil
        }
        var headers = HTTPHeaders()
        headers.add(name: "Sec-WebSocket-Protocol", value: "v1.api.smartspeaker.audio")
        return headers
    }

    func info() -> HTTPResponse {
        state.withLock { $0.infoRequests += 1 }
        let wss = "wss://127.0.0.1:\(port)/websocket/api"
        let (uuid, room, groupID, household) = core.read { m in
            (m.players[index].uuid, m.roomName(of: index), m.players[index].groupID, m.householdID)
        }
        let body: [String: Any] = [
            "device": [
                "id": uuid, "primaryDeviceId": uuid, "serialNumber": "00-0E-58-00-00-00:A", "model": "S38",
                "modelDisplayName": "Era 100", "color": "Black",
                "capabilities": ["PLAYBACK", "CLOUD", "AIRPLAY", "AUDIO_CLIP", "VOICE", "SPEAKER_DETECTION", "FIXED_VOLUME"],
                "apiVersion": "1.43.1", "minApiVersion": "1.1.0", "name": room, "websocketUrl": wss,
                "softwareVersion": SonosIdentity.softwareVersion, "hwVersion": "1.38.1.9-2.0", "swGen": 2,
            ],
            "householdId": household, "locationId": "lc_fake", "playerId": uuid, "groupId": groupID,
            "websocketUrl": wss, "restUrl": "https://127.0.0.1:\(port)/api",
        ]
        var r = HTTPResponse(status: .ok, body: (try? JSONSerialization.data(withJSONObject: body)) ?? Data())
        r.headers.add(name: "Content-Type", value: "application/json")
        return r
    }

    // MARK: Messages

    /// One text message from a client; returns what to answer (in order).
    func message(_ text: String, on channel: Channel) {
        guard let array = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [Any], array.count == 2,
              let header = array[0] as? [String: Any], let body = array[1] as? [String: Any] else {
            send(channel, [["namespace": "global:1", "type": "globalError", "success": false],
                           ["_objectType": "globalError", "errorCode": "ERROR_INVALID_SYNTAX"]])
            return
        }
        let cmdId = header["cmdId"] as? String
        let namespace = header["namespace"] as? String ?? ""
        let command = header["command"] as? String ?? ""
        func error(_ code: String) {
            send(channel, [["namespace": namespace, "response": command, "success": false, "type": "globalError",
                            "cmdId": cmdId as Any],
                           ["_objectType": "globalError", "errorCode": code]])
        }
        let uuid = core.read { $0.players[index].uuid }
        guard namespace == "audioClip:1", command == "loadAudioClip" else { return error("ERROR_INVALID_COMMAND") }
        guard header["playerId"] as? String == uuid else { return error("ERROR_INVALID_PLAYER") }
        guard let url = body["streamUrl"] as? String, let appId = body["appId"] as? String, !appId.isEmpty,
              body["name"] is String else { return error("ERROR_INVALID_PARAMETER") }
        let id = "clip-\(UUID().uuidString.prefix(8).lowercased())"
        var record = AudioClipRecord(id: id, url: url, volume: body["volume"] as? Int, priority: body["priority"] as? String,
                                     clipType: body["clipType"] as? String, appId: appId, status: "ACTIVE", fetched: nil)
        let refused = state.withLock { s -> Bool in
            if s.fail { record.status = "REFUSED" }
            s.clips.append(record)
            return s.fail
        }
        if refused { return error("ERROR_AUDIO_CLIP_DO_NOT_DISTURB") }
        send(channel, [["namespace": "audioClip:1", "response": "loadAudioClip", "success": true, "type": "audioClip",
                        "cmdId": cmdId as Any, "householdId": core.read { $0.householdID }, "playerId": uuid],
                       ["_objectType": "audioClip", "id": id, "name": body["name"] as Any, "appId": appId,
                        "priority": record.priority ?? "LOW", "clipType": record.clipType ?? "CHIME", "status": "ACTIVE"]])
        Task { await self.play(id: id, url: url, channel: channel) }
    }

    /// Fetches and "plays" the clip; the status events go to the connection that loaded it (a
    /// real player sends them to every subscriber; the driver's connection is the only one).
    private func play(id: String, url: String, channel: Channel) async {
        let fetched = await ClipFetcher.fetch(core: core, url: url)
        let playable = fetched.error == nil && fetched.duration != nil
        update(id) {
            $0.fetched = fetched
            $0.status = playable ? "ACTIVE" : "ERROR"
        }
        guard playable, let duration = fetched.duration else {
            sendStatus(channel, id: id, status: "ERROR", errorCode: "ERROR_AUDIO_CLIP_MEDIA_ERROR")
            return
        }
        sendStatus(channel, id: id, status: "ACTIVE")
        try? await Task.sleep(for: .milliseconds(Int(duration * 1000)))
        update(id) { $0.status = "DONE" }
        sendStatus(channel, id: id, status: "DONE")
    }

    private func update(_ id: String, _ change: (inout AudioClipRecord) -> Void) {
        state.withLock { s in
            if let k = s.clips.firstIndex(where: { $0.id == id }) { change(&s.clips[k]) }
        }
    }

    private func sendStatus(_ channel: Channel, id: String, status: String, errorCode: String? = nil) {
        var clip: [String: Any] = ["id": id, "status": status]
        if let errorCode { clip["errorCode"] = errorCode }
        let (uuid, household) = core.read { ($0.players[index].uuid, $0.householdID) }
        send(channel, [["namespace": "audioClip:1", "type": "audioClipStatus", "playerId": uuid, "householdId": household,
                        "sessionId": "S_fake", "success": true],
                       ["_objectType": "audioClipStatus", "audioClips": [clip]]])
    }

    private func send(_ channel: Channel, _ message: [[String: Any]]) {
        guard let data = try? JSONSerialization.data(withJSONObject: message) else { return }
        let buffer = channel.allocator.buffer(bytes: data)
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .text, data: buffer), promise: nil)
    }
}

/// Plain HTTPS requests: the info document; a refused WebSocket handshake ends here too.
private final class LocalAPIHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let server: AudioClipServer
    private var head: HTTPRequestHead?

    init(server: AudioClipServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            guard let h = head else { return }
            head = nil
            let path = String(h.uri.split(separator: "?", maxSplits: 1).first ?? "")
            let response: HTTPResponse
            if h.headers.first(name: "X-Sonos-Api-Key") != sonosLocalAPIKey {
                response = .status(.unauthorized)
            } else if path == "/api/v1/players/local/info" && h.method == .GET {
                response = server.info()
            } else if path == "/websocket/api" {
                response = .status(.forbidden)
            } else {
                response = .status(.notFound)
            }
            var headers = response.headers
            headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
            headers.replaceOrAdd(name: "Connection", value: "close")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: h.version, status: response.status,
                                                                 headers: headers))), promise: nil)
            if !response.body.isEmpty {
                context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))),
                              promise: nil)
            }
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

/// The upgraded connection: text messages to the server, pings answered, close echoed.
private final class AudioClipSocketHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    let server: AudioClipServer
    private var text = ByteBuffer()
    private var closing = false

    init(server: AudioClipServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .continuation:
            var payload = frame.unmaskedData
            text.writeBuffer(&payload)
            guard frame.fin else { return }
            let message = String(buffer: text)
            text.clear()
            server.message(message, on: context.channel)
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            guard !closing else { return context.close(promise: nil) }
            closing = true
            var data = frame.unmaskedData
            let code = data.readSlice(length: min(2, data.readableBytes)) ?? ByteBuffer()
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: code)))
                .whenComplete { _ in channel.close(promise: nil) }
        default:
            _ = frame
        }
    }
}
