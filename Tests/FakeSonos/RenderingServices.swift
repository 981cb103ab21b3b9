import Foundation

/// urn:schemas-upnp-org:service:RenderingControl:1 — /MediaRenderer/RenderingControl/Control
enum RenderingControlService {
    static func call(_ action: String, _ a: ActionArgs, player i: Int, model m: inout HouseholdModel) throws -> [(String, String)] {
        if let out = try RenderingCommands.call(action, a, player: i, model: &m) { return out }
        let known = ["GetVolume", "SetVolume", "SetRelativeVolume", "GetMute", "SetMute", "GetOutputFixed"]
        guard known.contains(action) else { throw UPnPError(401) }
        try a.instanceZero()
        var p = m.players[i]
        switch action {
        case "GetVolume":
            try a.masterChannel()
            let channel = try a.string("Channel")
            return [("CurrentVolume", String(channel == "Master" ? p.volume : p.channelVolume[channel] ?? 100))]
        case "SetVolume", "SetRelativeVolume":
            try a.masterChannel()
            let channel = try a.string("Channel")
            let new: Int
            if action == "SetVolume" {
                new = try a.int("DesiredVolume", in: 0...100)
            } else {
                new = max(0, min(100, (channel == "Master" ? p.volume : p.channelVolume[channel] ?? 100)
                    + (try a.int("Adjustment", in: -100...100))))
            }
            if p.fixedVolume {
                // Real players with fixed line-out volume answer 501 Action Failed.
                throw UPnPError(501, violation: "\(action) on \(p.name), whose output volume is fixed")
            }
            if channel == "Master" { p.volume = new } else { p.channelVolume[channel] = new }
            m.players[i] = p
            if let c = m.index(ofUUID: p.coordinator) { m.players[c].groupVolumeSnapshot = nil }
            return action == "SetRelativeVolume" ? [("NewVolume", String(new))] : []
        case "GetMute":
            try a.masterChannel()
            return [("CurrentMute", p.mute ? "1" : "0")]
        case "SetMute":
            try a.masterChannel()
            p.mute = try a.bool("DesiredMute")
            m.players[i] = p
            return []
        case "GetOutputFixed":
            return [("CurrentFixed", p.fixedVolume ? "1" : "0")]
        default:
            throw UPnPError(401)
        }
    }
}

/// Group volume as the coordinator computes it over its visible members (fixed-volume players
/// don't take part).
enum GroupVolume {
    struct State { let volume: Int; let mute: Bool; let changeable: Bool }

    static func adjustable(_ m: HouseholdModel, coordinator c: Int) -> [Int] {
        m.groupMembers(ofCoordinator: c).filter { !m.players[$0].fixedVolume }
    }

    static func state(_ m: HouseholdModel, coordinator c: Int) -> State {
        let members = m.groupMembers(ofCoordinator: c)
        let vols = adjustable(m, coordinator: c).map { m.players[$0].volume }
        let avg = vols.isEmpty ? 100 : Int((Double(vols.reduce(0, +)) / Double(vols.count)).rounded())
        return State(volume: avg, mute: members.allSatisfy { m.players[$0].mute }, changeable: !vols.isEmpty)
    }

    /// Scales every member proportionally from the snapshot (SnapshotGroupVolume), like Sonos.
    static func set(_ target: Int, model m: inout HouseholdModel, coordinator c: Int) {
        let ids = adjustable(m, coordinator: c)
        let snapshot = m.players[c].groupVolumeSnapshot
            ?? Dictionary(uniqueKeysWithValues: ids.map { (m.players[$0].uuid, m.players[$0].volume) })
        m.players[c].groupVolumeSnapshot = snapshot
        let base = ids.map { snapshot[m.players[$0].uuid] ?? m.players[$0].volume }
        let avg = base.isEmpty ? 0 : Double(base.reduce(0, +)) / Double(base.count)
        for (k, id) in ids.enumerated() {
            let v = avg == 0 ? Double(target) : Double(base[k]) * Double(target) / avg
            m.players[id].volume = max(0, min(100, Int(v.rounded())))
        }
    }
}

/// urn:schemas-upnp-org:service:GroupRenderingControl:1 — /MediaRenderer/GroupRenderingControl/Control
enum GroupRenderingControlService {
    static func call(_ action: String, _ a: ActionArgs, player i: Int, model m: inout HouseholdModel) throws -> [(String, String)] {
        let known = ["GetGroupVolume", "SetGroupVolume", "SetRelativeGroupVolume", "SnapshotGroupVolume",
                     "GetGroupMute", "SetGroupMute"]
        guard known.contains(action) else { throw UPnPError(401) }
        try a.instanceZero()
        guard m.isCoordinator(i) else {
            // Real players: 701 "Player isn't the coordinator" (svrooij/node-sonos-ts,
            // src/services/group-rendering-control.service.ts).
            throw UPnPError(m.quirks.realFaultCodes ? 701 : 800, violation: "\(action) sent to group member \(m.players[i].name); group "
                            + "rendering commands go to the coordinator")
        }
        switch action {
        case "GetGroupVolume":
            return [("CurrentVolume", String(GroupVolume.state(m, coordinator: i).volume))]
        case "SetGroupVolume":
            GroupVolume.set(try a.int("DesiredVolume", in: 0...100), model: &m, coordinator: i)
            return []
        case "SetRelativeGroupVolume":
            let current = GroupVolume.state(m, coordinator: i).volume
            let target = max(0, min(100, current + (try a.int("Adjustment", in: -100...100))))
            GroupVolume.set(target, model: &m, coordinator: i)
            return [("NewVolume", String(GroupVolume.state(m, coordinator: i).volume))]
        case "SnapshotGroupVolume":
            let ids = GroupVolume.adjustable(m, coordinator: i)
            m.players[i].groupVolumeSnapshot = Dictionary(uniqueKeysWithValues: ids.map { (m.players[$0].uuid, m.players[$0].volume) })
            return []
        case "GetGroupMute":
            return [("CurrentMute", GroupVolume.state(m, coordinator: i).mute ? "1" : "0")]
        case "SetGroupMute":
            let mute = try a.bool("DesiredMute")
            for id in m.groupMembers(ofCoordinator: i) { m.players[id].mute = mute }
            return []
        default:
            throw UPnPError(401)
        }
    }
}

/// urn:schemas-upnp-org:service:ZoneGroupTopology:1 — /ZoneGroupTopology/Control
enum ZoneGroupTopologyService {
    static func call(_ action: String, _ a: ActionArgs, player i: Int, model m: inout HouseholdModel) throws -> [(String, String)] {
        switch action {
        case "GetZoneGroupState":
            // Large households: real players refuse with 501, the topology only comes in
            // ZoneGroupTopology events (SoCo, soco/zonegroupstate.py, falls back to an event then).
            if let limit = m.quirks.zoneGroupStateLimit, m.players.count > limit { throw UPnPError(501) }
            return [("ZoneGroupState", m.zoneGroupState())]
        case "GetZoneGroupAttributes":
            let c = m.transportOwner(of: i)
            return [("CurrentZoneGroupName", m.roomName(of: c)),
                    ("CurrentZoneGroupID", m.players[i].groupID),
                    ("CurrentZonePlayerUUIDsInGroup",
                     m.groupMembers(ofCoordinator: c).map { m.players[$0].uuid }.joined(separator: ",")),
                    ("CurrentMuseHouseholdId", m.householdID)]
        default:
            throw UPnPError(401)
        }
    }
}
