import Foundation

/// What AVTransport reports for a player: a group member shows its coordinator's playback, with
/// its own AVTransportURI `x-rincon:<coordinator>`.
struct AVTView {
    let transport: TransportState
    let playMode: String
    let numberOfTracks: Int
    let track: Int
    let trackURI: String
    let trackDuration: String
    let trackMetadata: String
    let relTime: String
    let uri: String
    let uriMetadata: String
    let transportActions: String

    init(_ m: HouseholdModel, player i: Int, now: ContinuousClock.Instant) {
        let o = m.players[m.transportOwner(of: i)]
        let own = m.players[i]
        if m.quirks.memberReportsCoordinator, m.transportOwner(of: i) != i, own.satelliteOf == nil {
            // A real member plays the coordinator's group stream: it reports that stream as its
            // track, NOT_IMPLEMENTED for everything about the music, and PLAYING whatever the
            // coordinator does (SoCo#944, node-sonos#234, node-sonos-ts#145; a member's
            // get_current_track_info in smartgic/skill-sonos-controller#11).
            transport = .playing
            playMode = "NORMAL"
            numberOfTracks = 1
            track = 1
            uri = "x-rincon:\(o.uuid)"
            uriMetadata = ""
            trackURI = uri
            trackMetadata = "NOT_IMPLEMENTED"
            trackDuration = "NOT_IMPLEMENTED"
            relTime = "NOT_IMPLEMENTED"
            transportActions = "Set"
            return
        }
        transport = o.transport
        playMode = o.playMode
        numberOfTracks = o.numberOfTracks
        track = o.currentTrackNumber
        trackURI = o.currentTrackURI
        trackMetadata = o.currentTrackMetadata
        let kind = o.sourceKind
        trackDuration = kind == .empty ? "" : hms(o.trackDuration)
        relTime = kind == .empty ? "NOT_IMPLEMENTED" : hms(o.position(at: now))
        if m.transportOwner(of: i) != i {
            uri = own.satelliteOf == nil ? "x-rincon:\(o.uuid)" : ""
            uriMetadata = ""
        } else {
            uri = o.uri
            uriMetadata = o.uriMetadata
        }
        switch kind {
        case .queue: transportActions = "Set, Stop, Pause, Play, X_DLNA_SeekTime, Next, Previous, X_DLNA_SeekTrackNr"
        case .http: transportActions = "Set, Stop, Pause, Play, X_DLNA_SeekTime"
        case .empty: transportActions = "Set"
        default: transportActions = "Set, Stop, Pause, Play"
        }
    }
}

/// urn:schemas-upnp-org:service:AVTransport:1 — /MediaRenderer/AVTransport/Control
enum AVTransportService {
    /// Actions that only the group coordinator may perform; on anyone else Sonos answers 800.
    static let coordinatorOnly: Set<String> = ["Play", "Pause", "Stop", "Next", "Previous", "Seek", "SetPlayMode"]

    static func call(_ action: String, _ a: ActionArgs, player i: Int, model m: inout HouseholdModel,
                     now: ContinuousClock.Instant) throws(UPnPError) -> [(String, String)] {
        if let out = try AVTransportCommands.call(action, a, player: i, model: &m, now: now) { return out }
        let known = coordinatorOnly.union(["SetAVTransportURI", "GetTransportInfo", "GetPositionInfo", "GetMediaInfo",
                                           "GetTransportSettings", "BecomeCoordinatorOfStandaloneGroup",
                                           "GetCurrentTransportActions"])
        guard known.contains(action) else { throw UPnPError(401) }
        do { try a.instanceZero() } catch { throw error as? UPnPError ?? UPnPError(402) }

        if m.quirks.realFaultCodes, let code = realFault(action, player: i, model: m) {
            throw UPnPError(code.code, violation: code.violation)
        }
        if coordinatorOnly.contains(action), !m.isCoordinator(i) {
            throw UPnPError(800, violation: "\(action) sent to a group member (\(m.players[i].name)); transport "
                            + "commands go to the coordinator \(m.players[m.transportOwner(of: i)].name)")
        }
        do {
            switch action {
            case "SetAVTransportURI": try setURI(a, player: i, model: &m, now: now)
            case "Play": try play(player: i, model: &m, now: now)
            case "Pause":
                guard m.players[i].transport == .playing || m.players[i].transport == .transitioning else { throw UPnPError(701) }
                m.players[i].setTransport(.pausedPlayback, at: now)
            case "Stop":
                m.players[i].setTransport(.stopped, at: now)
                if m.players[i].sourceKind != .queue { m.players[i].positionAnchor = 0 }
            case "Next", "Previous":
                let p = m.players[i]
                guard p.sourceKind == .queue, !p.queue.isEmpty else { throw UPnPError(701) }
                let target = p.track + (action == "Next" ? 1 : -1)
                guard (1...p.queue.count).contains(target) else { throw UPnPError(711) }
                try seekTrack(target, player: i, model: &m, now: now)
            case "Seek": try seek(a, player: i, model: &m, now: now)
            case "SetPlayMode":
                let mode = try a.string("NewPlayMode")
                guard sonosPlayModes.contains(mode) else { throw UPnPError(712) }
                m.players[i].playMode = mode
            case "BecomeCoordinatorOfStandaloneGroup":
                // A coordinator hands its group to the next member; a member just leaves.
                let heir = m.isCoordinator(i) ? m.groupMembers(ofCoordinator: i).dropFirst().first : nil
                m.leave(i, now: now)
                return [("DelegatedGroupCoordinatorID", heir.map { m.players[$0].uuid } ?? ""),
                        ("NewGroupID", m.players[i].groupID)]
            case "GetTransportInfo":
                let v = AVTView(m, player: i, now: now)
                return [("CurrentTransportState", v.transport.rawValue), ("CurrentTransportStatus", "OK"),
                        ("CurrentSpeed", "1")]
            case "GetPositionInfo":
                let v = AVTView(m, player: i, now: now)
                return [("Track", String(v.track)), ("TrackDuration", v.trackDuration), ("TrackMetaData", v.trackMetadata),
                        ("TrackURI", v.trackURI), ("RelTime", v.relTime), ("AbsTime", "NOT_IMPLEMENTED"),
                        ("RelCount", "2147483647"), ("AbsCount", "2147483647")]
            case "GetMediaInfo":
                let v = AVTView(m, player: i, now: now)
                return [("NrTracks", String(v.numberOfTracks)), ("MediaDuration", "NOT_IMPLEMENTED"),
                        ("CurrentURI", v.uri), ("CurrentURIMetaData", v.uriMetadata), ("NextURI", ""),
                        ("NextURIMetaData", ""), ("PlayMedium", v.uri.isEmpty ? "NONE" : "NETWORK"),
                        ("RecordMedium", "NOT_IMPLEMENTED"), ("WriteStatus", "NOT_IMPLEMENTED")]
            case "GetTransportSettings":
                let v = AVTView(m, player: i, now: now)
                return [("PlayMode", v.playMode), ("RecQualityMode", "NOT_IMPLEMENTED")]
            case "GetCurrentTransportActions":
                return [("Actions", AVTView(m, player: i, now: now).transportActions)]
            default: throw UPnPError(401)
            }
        } catch let e as UPnPError {
            throw e
        } catch {
            throw UPnPError(402)
        }
        return []
    }

    /// The codes real players answer where the textbook fake says 800: Seek on a member 701,
    /// SetPlayMode on a member or without an active queue 712 (svrooij/node-sonos-ts,
    /// src/services/av-transport.service.ts, the remarks on Seek and SetPlayMode).
    private static func realFault(_ action: String, player i: Int, model m: HouseholdModel) -> (code: Int, violation: String?)? {
        let member = !m.isCoordinator(i)
        switch action {
        case "Seek" where member:
            return (701, "Seek sent to a group member (\(m.players[i].name)); it goes to the coordinator")
        case "SetPlayMode" where member:
            return (712, "SetPlayMode sent to a group member (\(m.players[i].name)); it goes to the coordinator")
        case "SetPlayMode" where m.players[i].sourceKind != .queue:
            return (712, nil)
        default:
            return nil
        }
    }

    private static func setURI(_ a: ActionArgs, player i: Int, model m: inout HouseholdModel,
                               now: ContinuousClock.Instant) throws {
        let uri = try a.string("CurrentURI")
        let metadata = try a.string("CurrentURIMetaData")
        let kind = SourceKind(uri: uri)
        // A service stream sent back with the metadata the player reports for it (item id -1) is refused (svrooij/node-sonos-ts RestoreState).
        if uri.hasPrefix("x-sonosapi-"), metadata.contains("id=\"-1\"") { throw UPnPError(402) }
        if case .groupMember(let coordinator) = kind {
            guard let target = m.index(ofUUID: coordinator), target != i, m.players[target].online,
                  m.players[target].satelliteOf == nil else { throw UPnPError(800) }
            if m.players[i].satelliteOf != nil {
                throw UPnPError(800, violation: "SetAVTransportURI sent to an invisible satellite")
            }
            m.join(i, to: target, now: now)
            m.players[i].groupedOverUPnP = true
            return
        }
        if m.players[i].satelliteOf != nil {
            throw UPnPError(800, violation: "SetAVTransportURI sent to an invisible satellite")
        }
        if kind == .other || (kind == .queue && uri != m.players[i].queueURI) { throw UPnPError(714) }
        if !m.isCoordinator(i) {
            // A real member accepts this and silently leaves its group: a group the user made is
            // broken; one a controller made over UPnP (x-rincon:) is undone, as that controller meant.
            if !m.players[i].groupedOverUPnP {
                m.players[i].violations.append(Violation(action: "SetAVTransportURI", reason:
                    "sent to group member \(m.players[i].name): it left the group of \(m.players[m.transportOwner(of: i)].name)"))
            }
            m.leave(i, now: now)
        }
        var p = m.players[i]
        let keepQueue = p.queue, keepTrack = p.track
        p.setTransport(.stopped, at: now)
        p.uri = uri
        p.uriMetadata = metadata
        p.clipDuration = nil
        p.positionAnchor = 0
        p.queue = keepQueue
        p.track = kind == .queue ? max(1, min(keepTrack, keepQueue.count)) : keepTrack
        m.players[i] = p
    }

    private static func play(player i: Int, model m: inout HouseholdModel, now: ContinuousClock.Instant) throws {
        var p = m.players[i]
        switch p.sourceKind {
        case .empty, .other: throw UPnPError(701)
        case .queue:
            guard !p.queue.isEmpty else { throw UPnPError(701) }
            if p.transport != .playing { p.setTransport(.playing, at: now) }
        case .http:
            if p.transport == .playing || p.transport == .transitioning {
                break
            } else if p.transport == .pausedPlayback, let duration = p.clipDuration {
                p.setTransport(.playing, at: now)
                m.effects.append(.clipEnd(player: i, generation: p.generation, after: max(0, duration - p.positionAnchor)))
            } else {
                p.setTransport(.transitioning, at: now)
                m.effects.append(.fetchClip(player: i, url: p.uri, generation: p.generation))
            }
        case .radio, .lineIn, .tv, .virtualLineIn:
            if p.transport != .playing { p.setTransport(.playing, at: now) }
        case .groupMember: throw UPnPError(800)
        }
        m.players[i] = p
    }

    private static func seekTrack(_ n: Int, player i: Int, model m: inout HouseholdModel, now: ContinuousClock.Instant) throws {
        let state = m.players[i].transport
        m.players[i].freezePosition(at: now)
        m.players[i].track = n
        m.players[i].positionAnchor = 0
        m.players[i].setTransport(state, at: now)
    }

    private static func seek(_ a: ActionArgs, player i: Int, model m: inout HouseholdModel, now: ContinuousClock.Instant) throws {
        let unit = try a.string("Unit"), target = try a.string("Target")
        let p = m.players[i]
        switch unit {
        case "TRACK_NR":
            guard p.sourceKind == .queue else { throw UPnPError(701) }
            guard let n = Int(target), (1...max(1, p.queue.count)).contains(n), !p.queue.isEmpty else { throw UPnPError(711) }
            try seekTrack(n, player: i, model: &m, now: now)
        case "REL_TIME":
            guard p.sourceKind == .queue || p.sourceKind == .http else { throw UPnPError(701) }
            guard let t = parseHMS(target) else { throw UPnPError(711) }
            if p.trackDuration > 0, t > p.trackDuration { throw UPnPError(711) }
            let state = p.transport
            m.players[i].freezePosition(at: now)
            m.players[i].positionAnchor = t
            m.players[i].setTransport(state, at: now)
            if state == .playing, p.sourceKind == .http, let d = p.clipDuration {
                m.effects.append(.clipEnd(player: i, generation: m.players[i].generation, after: max(0, d - t)))
            }
        default: throw UPnPError(710)
        }
    }
}
