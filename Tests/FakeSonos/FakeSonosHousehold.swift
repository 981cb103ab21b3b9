import Foundation
import NIOHTTP1

/// How one fake player is set up.
public struct FakeSonosPlayerOptions: Sendable {
    public var name: String
    /// Line-out at fixed volume (Port/Connect style): SetVolume answers 501 and is a violation.
    public var fixedVolume: Bool
    public var volume: Int
    /// Makes this player an invisible satellite (surround/sub) of the player with that name.
    public var invisibleSatelliteOf: String?
    /// Lists AUDIO_CLIP in its capabilities and serves the local audioClip API (see AudioClip.swift).
    public var audioClip: Bool
    /// The product (description, Server header, HTControl/AudioIn, Boost). Default Era 100.
    public var model: FakeSonosModel
    /// Makes this player the right speaker of a stereo pair whose left speaker is the player with
    /// that name: invisible, ChannelMapSet on both, following the left one's group.
    public var stereoPairOf: String?

    public init(name: String, fixedVolume: Bool = false, volume: Int = 20, invisibleSatelliteOf: String? = nil,
                audioClip: Bool = false, model: FakeSonosModel = .era100, stereoPairOf: String? = nil) {
        self.name = name
        self.fixedVolume = fixedVolume
        self.volume = volume
        self.invisibleSatelliteOf = invisibleSatelliteOf
        self.audioClip = audioClip
        self.model = model
        self.stereoPairOf = stereoPairOf
    }
}

public enum FakeSonosError: Error, CustomStringConvertible {
    case unknownSatelliteMain(String)
    public var description: String {
        switch self {
        case .unknownSatelliteMain(let name): return "invisibleSatelliteOf/stereoPairOf: no player named \(name)"
        }
    }
}

/// A fake Sonos household: every player is its own HTTP server on 127.0.0.1 (ephemeral port),
/// speaking Sonos UPnP byte for byte: device description, SOAP control with UPnP faults, GENA
/// events, ZoneGroupTopology. Call `stop()` when done.
public final class FakeSonosHousehold: Sendable {
    public let players: [FakeSonosPlayer]
    public let householdID: String
    let core: HouseholdCore
    /// The real-player behaviours this household shows.
    public var quirks: FakeSonosQuirks { core.quirks }

    private init(players: [FakeSonosPlayer], householdID: String, core: HouseholdCore) {
        self.players = players
        self.householdID = householdID
        self.core = core
    }

    /// `quirks`: which real-player behaviours to show (`.kind`: none, the textbook device).
    /// `addressing`: where the players listen (`.ephemeral`: 127.0.0.1 at random ports).
    public static func start(players options: [FakeSonosPlayerOptions], quirks: FakeSonosQuirks = .kind,
                             addressing: FakeSonosAddressing = .ephemeral) async throws -> FakeSonosHousehold {
        let seed = UInt32.random(in: 0...0xFFFFFF)
        var models: [PlayerModel] = []
        for (k, o) in options.enumerated() {
            var main: Int?
            if let mainName = o.invisibleSatelliteOf ?? o.stereoPairOf {
                guard let m = options.firstIndex(where: {
                    $0.name == mainName && $0.invisibleSatelliteOf == nil && $0.stereoPairOf == nil
                }) else {
                    throw FakeSonosError.unknownSatelliteMain(mainName)
                }
                main = m
            }
            var p = PlayerModel(index: k, options: o, uuid: SonosIdentity.uuid(seed: seed, index: k), satelliteOf: main,
                                bond: o.stereoPairOf != nil && o.invisibleSatelliteOf == nil ? .stereoRight : .satellite)
            p.uri = p.queueURI
            models.append(p)
        }
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        let householdID = "Sonos_" + String((0..<28).map { _ in alphabet.randomElement()! })
        let hosts = options.indices.map { addressing.host(of: $0) }
        let core = HouseholdCore(model: HouseholdModel(players: models, ports: Array(repeating: 0, count: models.count),
                                                       hosts: hosts, householdID: householdID, quirks: quirks))
        var handles: [FakeSonosPlayer] = []
        for (k, o) in options.enumerated() {
            let server = PlayerHTTPServer(group: core.group, host: hosts[k], serverHeader: o.model.serverHeader) { [core] request in
                await core.handle(player: k, request)
            }
            let port: Int
            do { port = try await server.start(port: addressing.port) } catch {
                for h in handles { await h.stopServers() }
                await core.shutdown()
                throw error
            }
            core.mutate { $0.ports[k] = port }
            // The local API (audioClip) on a port of its own, as a real player's 1443.
            var audioClip: AudioClipServer?
            if o.audioClip {
                let a = AudioClipServer(core: core, index: k)
                do { _ = try await a.start() } catch {
                    await server.stop()
                    for h in handles { await h.stopServers() }
                    await core.shutdown()
                    throw error
                }
                audioClip = a
            }
            handles.append(FakeSonosPlayer(core: core, index: k, name: o.name, uuid: models[k].uuid,
                                           server: server, audioClipServer: audioClip))
        }
        return FakeSonosHousehold(players: handles, householdID: householdID, core: core)
    }

    public func player(named name: String) -> FakeSonosPlayer? { players.first { $0.name == name } }

    /// "<host>:<port>" for every player: the driver's static address list.
    public var staticAddresses: [String] { players.map(\.address) }

    /// What GetZoneGroupState answers right now (unescaped).
    public var zoneGroupState: String { core.read { $0.zoneGroupState() } }

    /// Groups `member` with `coordinator` (as the Sonos app would), with topology events.
    public func join(_ member: FakeSonosPlayer, to coordinator: FakeSonosPlayer) {
        core.mutate { $0.join(member.index, to: coordinator.index, now: core.now) }
    }

    /// The player drops out of the household as a real one does when it is switched off or goes
    /// to sleep: it stops answering and the topology lists it under VanishedDevices with
    /// `reason` ("powered off", "sleeping", …). `comeBack()` brings it back.
    public func vanish(_ player: FakeSonosPlayer, reason: String) async {
        core.mutate { $0.players[player.index].vanishedReason = reason }
        await player.goOffline()
    }

    /// Makes `player` a standalone group again.
    public func leave(_ player: FakeSonosPlayer) {
        core.mutate { $0.leave(player.index, now: core.now) }
    }

    public func stop() async {
        for p in players { await p.stopServers() }
        core.mutate { m in
            for i in m.players.indices {
                for sub in m.players[i].subscriptions.values { sub.outbox.finish() }
                m.players[i].subscriptions = [:]
                m.players[i].generation += 1
            }
        }
        await core.shutdown()
    }
}

/// One fake player: where it listens, its state, what it saw, and fault injection.
public final class FakeSonosPlayer: Sendable {
    public let name: String
    /// RINCON_<12 hex>01400
    public let uuid: String
    /// Where it listens now (it changes when the player `moves`, as after a new DHCP lease).
    public var port: Int { core.read { $0.ports[index] } }
    let index: Int
    let core: HouseholdCore
    let server: PlayerHTTPServer
    let audioClipServer: AudioClipServer?

    init(core: HouseholdCore, index: Int, name: String, uuid: String, server: PlayerHTTPServer,
         audioClipServer: AudioClipServer? = nil) {
        self.core = core
        self.index = index
        self.name = name
        self.uuid = uuid
        self.server = server
        self.audioClipServer = audioClipServer
    }

    func stopServers() async {
        await server.stop()
        await audioClipServer?.stop()
    }

    /// The address it listens on: 127.0.0.1, or its own (FakeSonosAddressing.loopback).
    public var host: String { core.read { $0.hosts[index] } }
    /// "<host>:<port>"
    public var address: String { "\(host):\(port)" }
    /// http://<host>:<port>/xml/device_description.xml
    public var location: String { "http://\(address)/xml/device_description.xml" }
    /// The product it is.
    public var model: FakeSonosModel { read(\.model) }

    private func read<R: Sendable>(_ body: (PlayerModel) -> R) -> R { core.read { body($0.players[index]) } }

    // MARK: State

    /// Puts the player into a prior state (what it was doing before the announcement). A group
    /// member first leaves its group.
    public func setState(_ source: PriorSource, transport: TransportState = .playing, playMode: String? = nil) {
        core.mutate { m in
            let now = core.now
            if !m.isCoordinator(index), m.players[index].satelliteOf == nil { m.leave(index, now: now) }
            m.players[index].apply(source)
            if let playMode { m.players[index].playMode = playMode }
            let state: TransportState = source == .empty ? .stopped : transport
            m.players[index].transport = state
            m.players[index].playingSince = state == .playing ? now : nil
        }
    }

    public var volume: Int {
        get { read(\.volume) }
        set { core.mutate { $0.players[index].volume = max(0, min(100, newValue)) } }
    }

    public var mute: Bool {
        get { read(\.mute) }
        set { core.mutate { $0.players[index].mute = newValue } }
    }

    public var outputFixed: Bool { read(\.fixedVolume) }

    /// What this player reports (a member reports its coordinator's transport).
    public var transportState: TransportState { core.read { AVTView($0, player: index, now: core.now).transport } }
    public var avTransportURI: String { core.read { AVTView($0, player: index, now: core.now).uri } }
    public var avTransportURIMetaData: String { core.read { AVTView($0, player: index, now: core.now).uriMetadata } }
    public var playMode: String { core.read { AVTView($0, player: index, now: core.now).playMode } }
    /// 1-based track number (queue), 1 for single sources, 0 when empty.
    public var currentTrack: Int { core.read { AVTView($0, player: index, now: core.now).track } }
    /// Position in seconds (wall-clock while playing).
    public var position: TimeInterval { core.read { $0.players[$0.transportOwner(of: index)].position(at: core.now) } }
    public var coordinatorUUID: String { read(\.coordinator) }
    public var isCoordinator: Bool { core.read { $0.isCoordinator(index) } }
    public var groupID: String { read(\.groupID) }
    public var isOnline: Bool { read(\.online) }
    /// Its boot counter (BootSeq, X-RINCON-BOOTSEQ), one more after each `comeBack(rebooted: true)`.
    public var bootSeq: Int { read(\.bootSeq) }

    // MARK: Inspection

    public var soapLog: [SOAPCall] { read(\.soapLog) }
    public func calls(_ action: String) -> [SOAPCall] { soapLog.filter { $0.action == action } }
    public var fetchedClips: [FetchedClip] { read(\.fetchedClips) }
    public var violations: [Violation] { read(\.violations) }

    // MARK: audioClip (players made with `audioClip: true`; see AudioClip.swift)

    /// The local API's port on 127.0.0.1 (a real player's 1443); nil without the API.
    public var audioClipPort: Int? { audioClipServer?.port }
    /// Every loadAudioClip the player got, with its fetch and status.
    public var audioClips: [AudioClipRecord] { audioClipServer?.state.withLock { $0.clips } ?? [] }
    /// How often /api/v1/players/local/info was asked.
    public var audioClipInfoRequests: Int { audioClipServer?.state.withLock { $0.infoRequests } ?? 0 }
    /// WebSocket handshakes refused (wrong path, API key or subprotocol), with the reason.
    public var audioClipRejectedHandshakes: [String] { audioClipServer?.state.withLock { $0.rejectedHandshakes } ?? [] }
    /// loadAudioClip answers success:false (a globalError) while this is on.
    public var failAudioClip: Bool {
        get { audioClipServer?.state.withLock { $0.fail } ?? false }
        set { audioClipServer?.state.withLock { $0.fail = newValue } }
    }
    public var eventsSent: [SentEvent] { read(\.eventsSent) }
    public var subscriptions: [SubscriptionInfo] {
        read { p in
            p.subscriptions.values.sorted { $0.sid < $1.sid }.map {
                SubscriptionInfo(sid: $0.sid, service: $0.service.name, callback: $0.callback,
                                 timeoutSeconds: $0.timeout, nextSeq: $0.nextSeq)
            }
        }
    }

    public func clearLogs() {
        core.mutate { m in
            m.players[index].soapLog = []
            m.players[index].fetchedClips = []
            m.players[index].violations = []
            m.players[index].eventsSent = []
        }
    }

    /// Polls until `condition` holds (true) or `timeout` passes (false).
    public func waitUntil(timeout: TimeInterval = 5, _ condition: (FakeSonosPlayer) -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition(self) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition(self)
    }

    // MARK: Faults

    /// The next `times` calls of `action` (any service) answer with UPnP error `upnpCode`.
    public func failNext(action: String, upnpCode: Int, times: Int = 1) {
        core.mutate { $0.players[index].pendingFaults[action, default: []] += Array(repeating: upnpCode, count: times) }
    }

    /// Every request waits this long before it is answered (0 = normal).
    public func respondSlowly(seconds: TimeInterval) {
        core.mutate { $0.players[index].responseDelay = seconds }
    }

    /// The player drops off the network: connections refused, no events, gone from the topology.
    public func goOffline() async {
        core.mutate { $0.players[index].online = false }
        await stopServers()
    }

    /// Back on the same port. `rebooted`: it lost its subscriptions and stopped playing.
    /// `moved`: on a new port (a new address, as after a DHCP lease), which the household's
    /// topology — and so every ZoneGroupTopology subscriber — then reports as its location.
    public func comeBack(rebooted: Bool = false, moved: Bool = false) async throws {
        let bound = try await server.start(port: moved ? 0 : port)
        if moved { core.mutate { $0.ports[index] = bound } }
        if let a = audioClipServer { _ = try await a.start(port: a.port) }
        core.mutate { m in
            if rebooted {
                for sub in m.players[index].subscriptions.values { sub.outbox.finish() }
                m.players[index].subscriptions = [:]
                m.players[index].setTransport(.stopped, at: core.now)
                m.players[index].bootSeq += 1
            }
            m.players[index].online = true
            m.players[index].vanishedReason = nil
        }
    }
}
