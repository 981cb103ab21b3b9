import Foundation

/// urn:schemas-upnp-org:service:AlarmClock:1 — /AlarmClock/Control. The household's alarms:
/// ListAlarms answers CurrentAlarmList (<Alarms><Alarm ID StartTime Duration Recurrence Enabled
/// RoomUUID ProgramURI ProgramMetaData PlayMode Volume IncludeLinkedZones/></Alarms>) and
/// CurrentAlarmListVersion; UpdateAlarm takes every field back (StartTime as StartLocalTime), as
/// node-sonos-ts's alarm-clock.service.extension.ts reads and writes them; 801 "Duplicate alarm
/// time" is AlarmClock's own fault (its sonos-upnp-errors).
enum AlarmClockService {
    static func call(_ action: String, _ a: ActionArgs, player i: Int, model m: inout HouseholdModel) throws -> [(String, String)] {
        switch action {
        case "ListAlarms":
            let list = "<Alarms>" + m.library.alarms.map(element).joined() + "</Alarms>"
            return [("CurrentAlarmList", list), ("CurrentAlarmListVersion", "\(m.players[i].uuid):\(m.library.alarmListVersion)")]
        case "UpdateAlarm":
            let id = try a.int("ID", in: 0...Int(Int32.max))
            let updated = FakeSonosAlarm(
                id: id, startTime: try a.string("StartLocalTime"), duration: try a.string("Duration"),
                recurrence: try a.string("Recurrence"), enabled: try a.bool("Enabled"), roomUUID: try a.string("RoomUUID"),
                programURI: try a.string("ProgramURI"), programMetadata: try a.string("ProgramMetaData"),
                playMode: try a.string("PlayMode"), volume: try a.int("Volume", in: 0...100),
                includeLinkedZones: try a.bool("IncludeLinkedZones"))
            guard parseHMS(updated.startTime) != nil, parseHMS(updated.duration) != nil,
                  m.index(ofUUID: updated.roomUUID) != nil, sonosPlayModes.contains(updated.playMode) else { throw UPnPError(402) }
            // No source documents the code for an unknown ID; Invalid Args, as for any bad value.
            guard let k = m.library.alarms.firstIndex(where: { $0.id == id }) else { throw UPnPError(402) }
            let clash = m.library.alarms.contains {
                $0.id != id && $0.enabled && updated.enabled && $0.roomUUID == updated.roomUUID
                    && $0.startTime == updated.startTime && $0.recurrence == updated.recurrence
            }
            if clash { throw UPnPError(801) }
            m.library.alarms[k] = updated
            m.library.alarmListVersion += 1
            return []
        default:
            throw UPnPError(401)
        }
    }

    static func element(_ x: FakeSonosAlarm) -> String {
        "<Alarm ID=\"\(x.id)\" StartTime=\"\(xmlEscape(x.startTime))\" Duration=\"\(xmlEscape(x.duration))\" "
            + "Recurrence=\"\(xmlEscape(x.recurrence))\" Enabled=\"\(x.enabled ? 1 : 0)\" RoomUUID=\"\(xmlEscape(x.roomUUID))\" "
            + "ProgramURI=\"\(xmlEscape(x.programURI))\" ProgramMetaData=\"\(xmlEscape(x.programMetadata))\" "
            + "PlayMode=\"\(xmlEscape(x.playMode))\" Volume=\"\(x.volume)\" IncludeLinkedZones=\"\(x.includeLinkedZones ? 1 : 0)\"/>"
    }
}
