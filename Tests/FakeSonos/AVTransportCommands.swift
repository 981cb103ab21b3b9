import Foundation

/// The Sonos AVTransport actions beyond the textbook renderer that the typed commands send: sleep
/// timer, crossfade, queue add/clear, snooze. Argument names, coordinator rules and faults as
/// svrooij/node-sonos-ts documents them (docs/sonos-device/services/av-transport-service.md: "Send
/// to non-coordinator returns error code 800"; RemoveAllTracksFromQueue "If queue is already empty
/// it throw error 804"; SetCrossfadeMode 800 "for content which does not support crossfade mode").
enum AVTransportCommands {
    static let coordinatorOnly: Set<String> = ["ConfigureSleepTimer", "GetRemainingSleepTimerDuration", "SetCrossfadeMode",
                                               "AddURIToQueue", "RemoveAllTracksFromQueue"]
    static let actions = coordinatorOnly.union(["GetCrossfadeMode", "SnoozeAlarm"])

    /// The answer, or nil when `action` is not one of these (AVTransportService handles it).
    static func call(_ action: String, _ a: ActionArgs, player i: Int, model m: inout HouseholdModel,
                     now: ContinuousClock.Instant) throws(UPnPError) -> [(String, String)]? {
        guard actions.contains(action) else { return nil }
        do {
            try a.instanceZero()
            if coordinatorOnly.contains(action), !m.isCoordinator(i) {
                throw UPnPError(800, violation: "\(action) sent to group member \(m.players[i].name); it goes to the coordinator")
            }
            switch action {
            case "ConfigureSleepTimer":
                let d = try a.string("NewSleepTimerDuration")
                if d.isEmpty {
                    m.players[i].settings.sleepTimer = nil
                } else {
                    guard let t = parseHMS(d), t > 0 else { throw UPnPError(402) }
                    m.players[i].settings.sleepTimer = .init(duration: t, since: now)
                }
                m.players[i].settings.sleepTimerGeneration += 1
                return []
            case "GetRemainingSleepTimerDuration":
                let s = m.players[i].settings
                return [("RemainingSleepTimerDuration", s.sleepRemaining(at: now)),
                        ("CurrentSleepTimerGeneration", String(s.sleepTimerGeneration))]
            case "SetCrossfadeMode":
                let on = try a.bool("CrossfadeMode")
                if m.players[i].sourceKind.isStream { throw UPnPError(800) }
                m.players[i].settings.crossfade = on
                return []
            case "GetCrossfadeMode":
                return [("CrossfadeMode", m.players[m.transportOwner(of: i)].settings.crossfade ? "1" : "0")]
            case "AddURIToQueue": return try addToQueue(a, player: i, model: &m)
            case "RemoveAllTracksFromQueue":
                guard !m.players[i].queue.isEmpty else { throw UPnPError(804) }
                m.players[i].queue = []
                m.players[i].track = 0
                if m.players[i].sourceKind == .queue { m.players[i].setTransport(.stopped, at: now) }
                m.library.updateID += 1
                return []
            case "SnoozeAlarm":
                let d = try a.string("Duration")
                guard let t = parseHMS(d), t > 0 else { throw UPnPError(402) }
                // Not documented for a player with no alarm ringing; the fake answers 800, the code
                // Sonos uses for "not possible on this player now".
                guard m.players[i].settings.ringingAlarm != nil else { throw UPnPError(800) }
                m.players[i].settings.ringingAlarm = nil
                m.players[i].settings.snoozed = d
                if m.players[i].transport == .playing { m.players[i].setTransport(.stopped, at: now) }
                return []
            default:
                return nil
            }
        } catch let e as UPnPError {
            throw e
        } catch {
            throw UPnPError(402)
        }
    }

    /// A track, a Sonos playlist (savedqueues.rsq#N: its tracks) or a container favorite (its
    /// tracks); a radio stream cannot be queued (714).
    private static func addToQueue(_ a: ActionArgs, player i: Int, model m: inout HouseholdModel) throws -> [(String, String)] {
        let uri = try a.string("EnqueuedURI")
        _ = try a.string("EnqueuedURIMetaData")
        let desired = try a.int("DesiredFirstTrackNumberEnqueued", in: 0...100_000)
        _ = try a.bool("EnqueueAsNext")
        var tracks: [QueueTrack]
        if let playlist = m.library.playlists.first(where: { $0.uri == uri }) {
            tracks = playlist.tracks
        } else if let favorite = m.library.favorites.first(where: { $0.uri == uri && $0.isContainer }) {
            tracks = (1...max(1, favorite.tracks)).map { QueueTrack(uri: "x-sonos-http:\(favorite.title)-\($0).mp4", title: "\(favorite.title) \($0)") }
        } else {
            switch SourceKind(uri: uri) {
            case .http, .other where uri.hasPrefix("x-file-cifs:") || uri.hasPrefix("x-sonos-http:"):
                tracks = [QueueTrack(uri: uri)]
            default: throw UPnPError(714)
            }
        }
        var queue = m.players[i].queue
        let at = desired == 0 || desired > queue.count ? queue.count : desired - 1
        queue.insert(contentsOf: tracks, at: at)
        m.players[i].queue = queue
        m.library.updateID += 1
        return [("FirstTrackNumberEnqueued", String(at + 1)), ("NumTracksAdded", String(tracks.count)),
                ("NewQueueLength", String(queue.count))]
    }
}
