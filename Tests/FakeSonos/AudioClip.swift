import Foundation
import LabKit
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import Synchronization

// The Sonos local API as an S2 player serves it on port 1443 (here: on the player's own address,
// 1443 with loopback addressing, an ephemeral port when every player shares 127.0.0.1), for
// players created with `audioClip: true`:
//
//   GET /api/v1/players/local/info      capabilities (AUDIO_CLIP), playerId, websocketUrl
//   wss /websocket/api                  X-Sonos-Api-Key + subprotocol v1.api.smartspeaker.audio;
//                                       [header, body] JSON messages: loadAudioClip, audioClipStatus
//
// A clip plays over the music: the player ducks, its UPnP transport (queue, track, position) is
// not touched and sends no event. The clip is fetched like a real player does (ClipFetcher),
// then ACTIVE, and DONE after its duration (ERROR with ERROR_AUDIO_CLIP_MEDIA_ERROR when it
// cannot be fetched or decoded). What real players do, from Sonos's control API reference
// (audioClip namespace) and the clients music-assistant/aiosonos and jjlawren/sonos-websocket:
//
//   subscribe / unsubscribe     audioClipStatus events go to subscribed connections only
//                               (quirk audioClipSubscribeBeforeEvents; off: also to the loader)
//   audioClipStatus             no `success` in its header (replies have it); lists every clip the
//                               player knows, other apps' clips too
//   priorities                  HIGH interrupts LOW at once and HIGH after 10 s (INTERRUPTED);
//                               LOW interrupts LOW; otherwise the clip waits its turn
//   cancelAudioClip {id}        DISMISSED; ERROR_AUDIO_CLIP_ID_NOT_FOUND for an ended clip
//   closing the socket          leaves the clip playing (quirk audioClipOutlivesSocket; off: the
//                               clip stops with the socket, DISMISSED)

/// One clip the player got: a loadAudioClip it accepted (or refused, with `failAudioClip`), or
/// another app's clip (`loadForeignAudioClip`).
public struct AudioClipRecord: Sendable, Equatable {
    public let id: String
    public let url: String
    public let volume: Int?
    public let priority: String?
    public let clipType: String?
    public let appId: String?
    /// PENDING (loaded, being fetched or waiting its turn), ACTIVE, DONE, INTERRUPTED (a clip of
    /// higher priority took over), DISMISSED (cancelAudioClip, or its socket closed on the
    /// textbook player), ERROR; REFUSED when the player answered success:false.
    public var status: String
    /// The fetch of `url` (nil until it is done, for refused clips and other apps' clips).
    public var fetched: FetchedClip?
    /// With ERROR: the error code the status event carries.
    public var errorCode: String?
    /// cancelAudioClip named it while it played or waited.
    public var cancelled = false
    /// How long it plays (the fetched clip's duration; another app's clip: as loaded).
    public var seconds: TimeInterval?
    /// The connection that loaded it (nil: another app's clip).
    var loadedBy: ObjectIdentifier?

    public init(id: String, url: String, volume: Int?, priority: String?, clipType: String?, appId: String?,
                status: String, fetched: FetchedClip?) {
        self.id = id
        self.url = url
        self.volume = volume
        self.priority = priority
        self.clipType = clipType
        self.appId = appId
        self.status = status
        self.fetched = fetched
    }

    /// The clip as audioClipStatus lists it.
    var statusJSON: [String: Any] {
        var clip: [String: Any] = ["id": id, "name": appId == "org.speakerbridge" ? "speakerbridge" : "clip",
                                   "appId": appId ?? "", "priority": priority ?? "LOW", "clipType": clipType ?? "CHIME",
                                   "status": status]
        if let errorCode { clip["errorCode"] = errorCode }
        return clip
    }
}

/// One command a client sent on the socket (in order), with the clip id it named.
public struct AudioClipCommand: Sendable, Equatable {
    public let command: String
    public let clipID: String?

    public init(command: String, clipID: String?) {
        self.command = command
        self.clipID = clipID
    }
}

/// The well-known key every local-API client sends.
public let sonosLocalAPIKey = "123e4567-e89b-12d3-a456-426655440000"

struct AudioClipState {
    var clips: [AudioClipRecord] = []
    var fail = false
    var failFetch = false
    var infoRequests = 0
    var rejectedHandshakes: [String] = []
    var commands: [AudioClipCommand] = []
    /// Connections that sent subscribe (and not unsubscribe since).
    var subscribers: Set<ObjectIdentifier> = []
    /// The clip the player plays now, since when, and the clips waiting their turn.
    var playing: String?
    var playingSince: Date?
    var playGeneration = 0
    var waiting: [String] = []
    /// A HIGH clip interrupts a HIGH clip that has played longer than this (10 s on real players).
    var highInterruptsHighAfter: TimeInterval = 10
    var eventsSent = 0
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

    /// The address the player listens on (127.0.0.1, or its own with loopback addressing).
    var host: String { core.read { $0.hosts[index] } }

    /// Binds the player's own address and returns the bound port. `port` 0: ephemeral on
    /// 127.0.0.1 (many players share that address), the real 1443 on a player's own address.
    func start(port: Int = 0) async throws -> Int {
        let tls = try AudioClipTLS.context()
        let host = self.host
        let port = port == 0 && host != "127.0.0.1" ? FakeSonosAddressing.localAPIPort : port
        let channel = try await ServerBootstrap(group: core.group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try self.configure(channel, tls: tls)
                }
            }
            .bind(host: host, port: port).get()
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
        channel.closeFuture.whenComplete { [self] _ in
            _ = connections.withLock { $0.removeValue(forKey: id) }
            connectionClosed(id)
        }
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
        let wss = "wss://\(host):\(port)/websocket/api"
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
            "websocketUrl": wss, "restUrl": "https://\(host):\(port)/api",
        ]
        var r = HTTPResponse(status: .ok, body: (try? JSONSerialization.data(withJSONObject: body)) ?? Data())
        r.headers.add(name: "Content-Type", value: "application/json")
        return r
    }

    // MARK: Messages

    /// One text message from a client, answered on `channel`. Replies carry `success` and the
    /// command's `cmdId`; events (audioClipStatus) never carry `success` (Sonos control API,
    /// music-assistant/aiosonos tells the two apart by exactly that).
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
        let (uuid, household) = core.read { ($0.players[index].uuid, $0.householdID) }
        state.withLock { $0.commands.append(AudioClipCommand(command: command, clipID: (header["id"] ?? body["id"]) as? String)) }
        func reply(_ body: [String: Any], type: String? = nil) {
            var h: [String: Any] = ["namespace": namespace, "response": command, "success": true, "cmdId": cmdId as Any,
                                    "householdId": household, "playerId": uuid]
            if let type { h["type"] = type }
            send(channel, [h, body])
        }
        func error(_ code: String) {
            send(channel, [["namespace": namespace, "response": command, "success": false, "type": "globalError",
                            "cmdId": cmdId as Any],
                           ["_objectType": "globalError", "errorCode": code]])
        }
        guard namespace == "audioClip:1" else { return error("ERROR_INVALID_COMMAND") }
        guard header["playerId"] as? String == uuid else { return error("ERROR_INVALID_PLAYER") }
        let connection = ObjectIdentifier(channel)
        switch command {
        case "subscribe":
            state.withLock { _ = $0.subscribers.insert(connection) }
            reply([:])
        case "unsubscribe":
            state.withLock { _ = $0.subscribers.remove(connection) }
            reply([:])
        case "cancelAudioClip":
            // The clip's id: a path parameter in the REST form (…/audioClip/{id}); taken from the
            // header or the body.
            guard let id = (header["id"] ?? body["id"]) as? String, cancel(id) else {
                return error("ERROR_AUDIO_CLIP_ID_NOT_FOUND")
            }
            reply([:])
        case "loadAudioClip":
            guard let url = body["streamUrl"] as? String, let appId = body["appId"] as? String, !appId.isEmpty,
                  body["name"] is String else { return error("ERROR_INVALID_PARAMETER") }
            let id = "clip-\(UUID().uuidString.prefix(8).lowercased())"
            var record = AudioClipRecord(id: id, url: url, volume: body["volume"] as? Int,
                                         priority: body["priority"] as? String, clipType: body["clipType"] as? String,
                                         appId: appId, status: "PENDING", fetched: nil)
            record.loadedBy = connection
            let refused = state.withLock { s -> Bool in
                if s.fail { record.status = "REFUSED" }
                s.clips.append(record)
                return s.fail
            }
            if refused { return error("ERROR_AUDIO_CLIP_DO_NOT_DISTURB") }
            reply(["_objectType": "audioClip", "id": id, "name": body["name"] as Any, "appId": appId,
                   "priority": record.priority ?? "LOW", "clipType": record.clipType ?? "CHIME", "status": "PENDING"],
                  type: "audioClip")
            Task { await self.fetchAndSchedule(id: id, url: url) }
        default:
            error("ERROR_INVALID_COMMAND")
        }
    }

    /// Fetches the clip as a player does (ClipFetcher); one it cannot fetch or decode is an ERROR
    /// before it ever played, with the error code real players give.
    private func fetchAndSchedule(id: String, url: String) async {
        let failFetch = state.withLock { $0.failFetch }
        var fetched = await ClipFetcher.fetch(core: core, url: url)
        if failFetch {
            fetched = FetchedClip(url: url, httpStatus: nil, bytes: 0, contentType: nil, duration: nil,
                                  error: "failAudioClipFetch")
        }
        let playable = fetched.error == nil && fetched.duration != nil
        let changed = state.withLock { s -> [String] in
            guard let k = s.clips.firstIndex(where: { $0.id == id }), s.clips[k].status == "PENDING" else { return [] }
            s.clips[k].fetched = fetched
            s.clips[k].seconds = fetched.duration
            guard playable else {
                s.clips[k].status = "ERROR"
                s.clips[k].errorCode = "ERROR_AUDIO_CLIP_MEDIA_ERROR"
                return [id]
            }
            return s.schedule(id, now: Date())
        }
        afterChange(changed)
    }

    /// Another app's clip (a doorbell, a voice assistant) loaded on this player now: it plays by
    /// the priority rules like ours, and status events list it beside ours.
    func loadForeign(priority: String, seconds: TimeInterval) -> String {
        let id = "foreign-\(UUID().uuidString.prefix(8).lowercased())"
        let changed = state.withLock { s -> [String] in
            var record = AudioClipRecord(id: id, url: "", volume: nil, priority: priority, clipType: "CHIME",
                                         appId: "com.example.doorbell", status: "PENDING", fetched: nil)
            record.seconds = seconds
            s.clips.append(record)
            return s.schedule(id, now: Date())
        }
        afterChange(changed)
        return id
    }

    /// cancelAudioClip: a playing or waiting clip is DISMISSED; false for an id the player does
    /// not know or that has ended (ERROR_AUDIO_CLIP_ID_NOT_FOUND).
    private func cancel(_ id: String) -> Bool {
        let changed = state.withLock { s -> [String]? in
            guard let k = s.clips.firstIndex(where: { $0.id == id }), ["ACTIVE", "PENDING"].contains(s.clips[k].status) else {
                return nil
            }
            s.clips[k].cancelled = true
            return s.stop(id, as: "DISMISSED", now: Date())
        }
        guard let changed else { return false }
        afterChange(changed)
        return true
    }

    /// The connection that loaded clips went away. A real player plays a loaded clip on
    /// (`audioClipOutlivesSocket`); the textbook player stops them with the socket.
    func connectionClosed(_ connection: ObjectIdentifier) {
        let outlives = core.quirks.audioClipOutlivesSocket
        let changed = state.withLock { s -> [String] in
            s.subscribers.remove(connection)
            guard !outlives else { return [] }
            var changed: [String] = []
            for clip in s.clips where clip.loadedBy == connection && ["ACTIVE", "PENDING"].contains(clip.status) {
                changed += s.stop(clip.id, as: "DISMISSED", now: Date())
            }
            return changed
        }
        afterChange(changed)
    }

    /// Sends the event for `changed` clips, and times the end of each clip that became ACTIVE.
    private func afterChange(_ changed: [String]) {
        guard !changed.isEmpty else { return }
        sendStatus(changed)
        let started = state.withLock { s in
            changed.compactMap { id -> (String, Int, TimeInterval)? in
                guard let clip = s.clips.first(where: { $0.id == id }), clip.status == "ACTIVE" else { return nil }
                return (id, s.playGeneration, clip.seconds ?? 0)
            }
        }
        for (id, generation, seconds) in started {
            Task {
                try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
                let ended = self.state.withLock { s -> [String] in
                    guard s.playing == id, s.playGeneration == generation else { return [] }
                    return s.stop(id, as: "DONE", now: Date())
                }
                self.afterChange(ended)
            }
        }
    }

    /// audioClipStatus: the changed clips and every clip still playing or waiting. It goes to the
    /// connections that subscribed; the textbook player (no `audioClipSubscribeBeforeEvents`)
    /// also tells the connection that loaded a clip, subscribed or not.
    private func sendStatus(_ changed: [String]) {
        let subscribeFirst = core.quirks.audioClipSubscribeBeforeEvents
        let (clips, recipients) = state.withLock { s -> ([[String: Any]], Set<ObjectIdentifier>) in
            let listed = s.clips.filter { changed.contains($0.id) || ["ACTIVE", "PENDING"].contains($0.status) }
            var recipients = s.subscribers
            if !subscribeFirst { recipients.formUnion(listed.filter { changed.contains($0.id) }.compactMap(\.loadedBy)) }
            s.eventsSent += 1
            return (listed.map(\.statusJSON), recipients)
        }
        let (uuid, household) = core.read { ($0.players[index].uuid, $0.householdID) }
        let channels = connections.withLock { c in recipients.compactMap { c[$0] } }
        for channel in channels {
            send(channel, [["namespace": "audioClip:1", "type": "audioClipStatus", "playerId": uuid,
                            "householdId": household, "sessionId": "S_fake"],
                           ["_objectType": "audioClipStatus", "audioClips": clips]])
        }
    }

    private func send(_ channel: Channel, _ message: [[String: Any]]) {
        guard let data = try? JSONSerialization.data(withJSONObject: message) else { return }
        let buffer = channel.allocator.buffer(bytes: data)
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .text, data: buffer), promise: nil)
    }
}

extension AudioClipState {
    /// The priority rules of loadAudioClip (Sonos control API): a HIGH clip interrupts a LOW one at
    /// any time and a HIGH one that has played for more than 10 s; a LOW clip interrupts a LOW
    /// one; otherwise the new clip waits its turn. Returns the clips whose status changed.
    mutating func schedule(_ id: String, now: Date) -> [String] {
        guard let new = clips.first(where: { $0.id == id }) else { return [] }
        guard let current = playing, let k = clips.firstIndex(where: { $0.id == current }) else {
            return start(id, now: now)
        }
        let newHigh = new.priority == "HIGH"
        let currentHigh = clips[k].priority == "HIGH"
        let playedFor = now.timeIntervalSince(playingSince ?? now)
        let interrupts = newHigh ? (!currentHigh || playedFor > highInterruptsHighAfter) : !currentHigh
        guard interrupts else {
            waiting.append(id)
            return []
        }
        clips[k].status = "INTERRUPTED"
        playing = nil
        return [current] + start(id, now: now)
    }

    private mutating func start(_ id: String, now: Date) -> [String] {
        guard let k = clips.firstIndex(where: { $0.id == id }) else { return [] }
        clips[k].status = "ACTIVE"
        playing = id
        playingSince = now
        playGeneration += 1
        return [id]
    }

    /// Ends `id` (DONE, DISMISSED) and starts the next waiting clip.
    mutating func stop(_ id: String, as status: String, now: Date) -> [String] {
        guard let k = clips.firstIndex(where: { $0.id == id }) else { return [] }
        clips[k].status = status
        waiting.removeAll { $0 == id }
        guard playing == id else { return [id] }
        playing = nil
        guard !waiting.isEmpty else { return [id] }
        return [id] + start(waiting.removeFirst(), now: now)
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

// MARK: - Test hooks on a player with the API (players made with `audioClip: true`)

extension FakeSonosPlayer {
    /// Every command clients sent on the player's audioClip sockets, in order.
    public var audioClipCommands: [AudioClipCommand] { audioClipServer?.state.withLock { $0.commands } ?? [] }
    /// How many connections are subscribed to audioClip events now.
    public var audioClipSubscribers: Int { audioClipServer?.state.withLock { $0.subscribers.count } ?? 0 }
    /// How many audioClipStatus events the player sent (to however many subscribers).
    public var audioClipStatusEvents: Int { audioClipServer?.state.withLock { $0.eventsSent } ?? 0 }

    /// The player cannot fetch the clips loaded from now on: each ends ERROR
    /// (ERROR_AUDIO_CLIP_MEDIA_ERROR) before it ever plays.
    public var failAudioClipFetch: Bool {
        get { audioClipServer?.state.withLock { $0.failFetch } ?? false }
        set { audioClipServer?.state.withLock { $0.failFetch = newValue } }
    }

    /// A HIGH clip interrupts a HIGH clip that has played longer than this; 10 s on real players
    /// (Sonos control API, loadAudioClip). A test lowers it to interrupt a short clip.
    public var audioClipHighInterruptsHighAfter: TimeInterval {
        get { audioClipServer?.state.withLock { $0.highInterruptsHighAfter } ?? 10 }
        set { audioClipServer?.state.withLock { $0.highInterruptsHighAfter = newValue } }
    }

    /// Another app loads a clip on this player now (a doorbell chime, a voice assistant): it
    /// plays by the priority rules for `seconds`, and the status events list it beside ours.
    /// Returns its id (nil without the API).
    @discardableResult
    public func loadForeignAudioClip(priority: String = "HIGH", seconds: TimeInterval = 1) -> String? {
        audioClipServer?.loadForeign(priority: priority, seconds: seconds)
    }
}
