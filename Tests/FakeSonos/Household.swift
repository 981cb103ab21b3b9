import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// Work that must happen outside the household lock (network I/O, timers).
enum Effect {
    case fetchClip(player: Int, url: String, generation: Int)
    case clipEnd(player: Int, generation: Int, after: TimeInterval)
}

/// Everything the household knows, guarded by one lock: the players, the topology, the
/// subscriptions. Every change goes through `HouseholdCore.mutate`, which also sends the GENA
/// events the change caused.
struct HouseholdModel {
    var players: [PlayerModel]
    var ports: [Int]
    /// The address each player listens on (FakeSonosAddressing).
    let hosts: [String]
    let householdID: String
    /// Which real-player behaviours this household shows (fixed for its life).
    let quirks: FakeSonosQuirks
    var groupCounter = 100
    var sidCounter = 400
    var effects: [Effect] = []
    /// Favorites, playlists and alarms (Library.swift).
    var library = SonosLibrary()

    func index(ofUUID uuid: String) -> Int? { players.firstIndex { $0.uuid == uuid } }

    /// The player whose AVTransport state a player shows (itself, or its group's coordinator).
    func transportOwner(of i: Int) -> Int { index(ofUUID: players[i].coordinator) ?? i }

    func isCoordinator(_ i: Int) -> Bool { players[i].satelliteOf == nil && players[i].coordinator == players[i].uuid }

    func location(of i: Int) -> String { "http://\(hosts[i]):\(ports[i])/xml/device_description.xml" }

    /// The name a player shows: a satellite shows its main player's room.
    func roomName(of i: Int) -> String { players[i].satelliteOf.map { players[$0].name } ?? players[i].name }

    /// Visible group members (coordinator first, then by index) of the group coordinated by `c`.
    func groupMembers(ofCoordinator c: Int) -> [Int] {
        let members = players.indices.filter {
            players[$0].satelliteOf == nil && players[$0].online && players[$0].coordinator == players[c].uuid
        }
        return [c] + members.filter { $0 != c }
    }

    // MARK: Topology changes

    mutating func newGroupID(for uuid: String) -> String {
        groupCounter += 1
        return "\(uuid):\(groupCounter)"
    }

    /// `member` joins the group of `coordinator` (what SetAVTransportURI x-rincon:<uuid> does).
    mutating func join(_ member: Int, to target: Int, now: ContinuousClock.Instant) {
        let c = transportOwner(of: target)
        if isCoordinator(member) { handOverGroup(of: member, now: now) }
        players[member].setTransport(.stopped, at: now)
        players[member].coordinator = players[c].uuid
        players[member].groupID = players[c].groupID
        players[member].groupedOverUPnP = false
        players[member].uri = "x-rincon:\(players[c].uuid)"
        players[member].uriMetadata = ""
        players[c].groupVolumeSnapshot = nil
        syncSatellites()
    }

    /// `i` becomes a standalone group (BecomeCoordinatorOfStandaloneGroup, or playing a URI of its own).
    mutating func leave(_ i: Int, now: ContinuousClock.Instant) {
        if isCoordinator(i) {
            if groupMembers(ofCoordinator: i).count == 1 { return }
            handOverGroup(of: i, now: now)
        } else if let c = index(ofUUID: players[i].coordinator) {
            players[c].groupVolumeSnapshot = nil
        }
        players[i].coordinator = players[i].uuid
        players[i].groupID = newGroupID(for: players[i].uuid)
        players[i].groupedOverUPnP = false
        players[i].setTransport(.stopped, at: now)
        players[i].uri = players[i].queueURI
        players[i].uriMetadata = ""
        syncSatellites()
    }

    /// A coordinator leaves: its first remaining member takes over the group and what it plays.
    private mutating func handOverGroup(of c: Int, now: ContinuousClock.Instant) {
        let rest = groupMembers(ofCoordinator: c).filter { $0 != c }
        guard let heir = rest.first else { return }
        let old = players[c]
        let gid = newGroupID(for: players[heir].uuid)
        for m in rest {
            players[m].coordinator = players[heir].uuid
            players[m].groupID = gid
            players[m].uri = "x-rincon:\(players[heir].uuid)"
        }
        players[heir].uri = old.uri
        players[heir].uriMetadata = old.uriMetadata
        players[heir].queue = old.queue
        players[heir].track = old.track
        players[heir].clipDuration = old.clipDuration
        players[heir].positionAnchor = old.position(at: now)
        players[heir].transport = old.transport
        players[heir].playingSince = old.transport == .playing ? now : nil
        players[heir].generation += 1
        players[heir].groupVolumeSnapshot = nil
    }

    /// Satellites always follow their main player's group.
    mutating func syncSatellites() {
        for i in players.indices {
            if let main = players[i].satelliteOf {
                players[i].coordinator = players[main].coordinator
                players[i].groupID = players[main].groupID
            }
        }
    }

    // MARK: ZoneGroupState

    func zoneGroupState() -> String {
        var xml = "<ZoneGroupState><ZoneGroups>"
        for c in players.indices where isCoordinator(c) && players[c].online {
            xml += "<ZoneGroup Coordinator=\"\(players[c].uuid)\" ID=\"\(players[c].groupID)\">"
            for m in groupMembers(ofCoordinator: c) {
                let bonded = players.indices.filter { players[$0].satelliteOf == m && players[$0].online }
                let sats = bonded.filter { players[$0].bond == .satellite }
                // A stereo pair: two ZoneGroupMembers with the same ChannelMapSet, the right one
                // Invisible (svrooij/node-sonos-ts, src/tests/services/responses/
                // zone-group.GroupState.ChannelMapSet.stereo.xml; SoCo, soco/zonegroupstate.py).
                let right = bonded.first { players[$0].bond == .stereoRight }
                let pairMap = right.map { " ChannelMapSet=\"\(players[m].uuid):LF,LF;\(players[$0].uuid):RF,RF\"" } ?? ""
                xml += "<ZoneGroupMember " + memberAttributes(m) + pairMap
                if sats.isEmpty {
                    xml += "/>"
                } else {
                    let map = ([players[m].uuid + ":LF,RF"] + sats.enumerated().map {
                        players[$0.element].uuid + ":" + ["LR", "RR", "SW"][$0.offset % 3]
                    }).joined(separator: ";")
                    xml += " HTSatChanMapSet=\"\(map)\">"
                    for s in sats { xml += "<Satellite " + memberAttributes(s) + "/>" }
                    xml += "</ZoneGroupMember>"
                }
                if let right { xml += "<ZoneGroupMember " + memberAttributes(right) + pairMap + "/>" }
            }
            xml += "</ZoneGroup>"
        }
        xml += "</ZoneGroups><VanishedDevices>"
        // Players switched off or asleep, with the reason the household gives (home-assistant/core,
        // homeassistant/components/sonos/speaker.py, reads UUID, ZoneName and Reason of each Device).
        for i in players.indices where !players[i].online {
            if let reason = players[i].vanishedReason {
                xml += "<Device UUID=\"\(players[i].uuid)\" ZoneName=\"\(xmlEscape(roomName(of: i)))\" Reason=\"\(xmlEscape(reason))\"/>"
            }
        }
        return xml + "</VanishedDevices></ZoneGroupState>"
    }

    private func memberAttributes(_ i: Int) -> String {
        let p = players[i]
        // A Boost/Bridge: invisible, IsZoneBridge="1", the zone-extender icon (SoCo,
        // soco/zonegroupstate.py's example payload).
        let icon = p.model.isZoneBridge ? "x-rincon-roomicon:zoneextender" : "x-rincon-roomicon:living"
        var a = "UUID=\"\(p.uuid)\" Location=\"\(location(of: i))\" ZoneName=\"\(xmlEscape(roomName(of: i)))\" "
            + "Icon=\"\(icon)\" Configuration=\"1\" "
        if p.satelliteOf != nil || p.model.isZoneBridge { a += "Invisible=\"1\" " }
        if p.model.isZoneBridge { a += "IsZoneBridge=\"1\" " }
        a += "SoftwareVersion=\"\(SonosIdentity.softwareVersion)\" SWGen=\"2\" MinCompatibleVersion=\"79.0-00000\" "
            + "LegacyCompatibleVersion=\"58.0-00000\" BootSeq=\"\(p.bootSeq)\" TVConfigurationError=\"0\" HdmiCecAvailable=\"0\" "
            + "WirelessMode=\"1\" WirelessLeafOnly=\"0\" ChannelFreq=\"2437\" BehindWifiExtender=\"0\" WifiEnabled=\"1\" "
            + "EthLink=\"0\" Orientation=\"0\" RoomCalibrationState=\"4\" SecureRegState=\"3\" VoiceConfigState=\"0\" "
            + "MicEnabled=\"0\" AirPlayEnabled=\"1\" IdleState=\"1\" MoreInfo=\"\" SSLPort=\"1443\" HHSSLPort=\"1843\""
        return a
    }
}

/// The shared engine behind a household: the model, the event loops, the HTTP client used for
/// NOTIFY and clip fetches, and the per-player servers.
final class HouseholdCore: Sendable {
    let model: Mutex<HouseholdModel>
    let group: MultiThreadedEventLoopGroup
    let http: HTTPClient
    let clock = ContinuousClock()
    /// The same as `model.quirks`, readable without the lock (AudioClip.swift reads it per message).
    let quirks: FakeSonosQuirks

    init(model: HouseholdModel) {
        self.quirks = model.quirks
        self.model = Mutex(model)
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var config = HTTPClient.Configuration()
        config.timeout = .init(connect: .seconds(2), read: .seconds(5))
        // One client serves every player of the household, but each real player has its own HTTP
        // stack: the pool must never make one player's clip fetch wait behind another's GENA
        // NOTIFYs (AsyncHTTPClient's default of 8 connections per host did, under load).
        config.connectionPool = .init(idleTimeout: .seconds(5), concurrentHTTP1ConnectionsPerHostSoftLimit: 256)
        self.http = HTTPClient(eventLoopGroupProvider: .shared(group), configuration: config)
    }

    var now: ContinuousClock.Instant { clock.now }

    /// Reads the model without side effects.
    func read<R: Sendable>(_ body: (HouseholdModel) -> R) -> R {
        model.withLock { body($0) }
    }

    /// Changes the model, sends the GENA events the change caused, then runs timers/fetches.
    @discardableResult
    func mutate<R: Sendable, E: Error>(_ body: (inout HouseholdModel) throws(E) -> R) throws(E) -> R {
        let (result, effects): (R, [Effect]) = try model.withLock { (m) throws(E) -> (R, [Effect]) in
            let r = try body(&m)
            m.syncSatellites()
            GENA.flush(&m, now: clock.now)
            let e = m.effects
            m.effects = []
            return (r, e)
        }
        for effect in effects { run(effect) }
        return result
    }

    private func run(_ effect: Effect) {
        switch effect {
        case .fetchClip(let player, let url, let generation):
            Task { await ClipFetcher.play(core: self, player: player, url: url, generation: generation) }
        case .clipEnd(let player, let generation, let after):
            Task {
                try? await Task.sleep(for: .milliseconds(Int(after * 1000)))
                self.mutate { m in
                    guard m.players[player].generation == generation, m.players[player].transport == .playing else { return }
                    m.players[player].setTransport(.stopped, at: self.now)
                    m.players[player].positionAnchor = 0
                }
            }
        }
    }

    func shutdown() async {
        try? await http.shutdown()
        try? await group.shutdownGracefully()
    }
}
