import Foundation

/// The Sonos RenderingControl actions beyond volume and mute that the typed commands send: bass,
/// treble, loudness and the EQ (node-sonos-ts rendering-control-service.md: DesiredBass and
/// DesiredTreble −10…10, SetLoudness with a Channel, SetEQ with EQType and DesiredValue).
enum RenderingCommands {
    static let actions: Set<String> = ["GetBass", "SetBass", "GetTreble", "SetTreble", "GetLoudness", "SetLoudness",
                                       "GetEQ", "SetEQ"]

    /// EQTypes and their ranges. The home-theater ones exist on soundbars only (the models with
    /// HTControl); node-sonos-ts: "Not supported by all speakers, TV related".
    static let eqTypes: [String: (range: ClosedRange<Int>, homeTheater: Bool)] = [
        "DialogLevel": (0...1, true), "NightMode": (0...1, true), "SurroundEnable": (0...1, true),
        "SurroundLevel": (-15...15, true), "MusicSurroundLevel": (-15...15, true), "SurroundMode": (0...1, true),
        "HeightChannelLevel": (-10...10, true), "SubGain": (-10...10, false),
    ]

    /// The answer, or nil when `action` is not one of these (RenderingControlService handles it).
    static func call(_ action: String, _ a: ActionArgs, player i: Int, model m: inout HouseholdModel) throws -> [(String, String)]? {
        guard actions.contains(action) else { return nil }
        try a.instanceZero()
        var s = m.players[i].settings
        switch action {
        case "GetBass": return [("CurrentBass", String(s.bass))]
        case "SetBass": s.bass = try a.int("DesiredBass", in: -10...10)
        case "GetTreble": return [("CurrentTreble", String(s.treble))]
        case "SetTreble": s.treble = try a.int("DesiredTreble", in: -10...10)
        case "GetLoudness":
            try a.masterChannel()
            return [("CurrentLoudness", s.loudness ? "1" : "0")]
        case "SetLoudness":
            try a.masterChannel()
            s.loudness = try a.bool("DesiredLoudness")
        case "GetEQ", "SetEQ":
            let type = try a.string("EQType")
            // An EQType the player does not have: no source documents the code; Invalid Args is
            // what a UPnP stack answers for an argument value it does not take.
            guard let eq = eqTypes[type], !eq.homeTheater || m.players[i].model.htControl else { throw UPnPError(402) }
            if action == "GetEQ" { return [("CurrentValue", String(s.eq[type] ?? 0))] }
            s.eq[type] = try a.int("DesiredValue", in: eq.range)
        default: return nil
        }
        m.players[i].settings = s
        return []
    }
}
