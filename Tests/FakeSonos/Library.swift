import Foundation

/// The household's library as the Sonos-only commands see it: Sonos favorites (ContentDirectory
/// FV:2), Sonos playlists (SQ:) and alarms (AlarmClock). Household-wide, as on real players: every
/// player answers for all of them.
struct SonosLibrary: Sendable {
    var favorites: [FakeSonosFavorite] = []
    var playlists: [FakeSonosPlaylist] = []
    var alarms: [FakeSonosAlarm] = []
    var alarmListVersion = 1
    var updateID = 1
}

/// A Sonos favorite: what Browse FV:2 lists (its `res` and the `r:resMD` to play it with).
public struct FakeSonosFavorite: Sendable, Equatable {
    public var title: String
    public var uri: String
    public var metadata: String
    /// Tracks AddURIToQueue adds for a container favorite (album, playlist).
    public var tracks: Int

    public init(title: String, uri: String, metadata: String, tracks: Int = 0) {
        self.title = title
        self.uri = uri
        self.metadata = metadata
        self.tracks = tracks
    }

    /// A TuneIn station, as the Sonos app saves one (node-sonos-ts MetadataHelper's TuneIn shape).
    public static func radio(_ title: String, station: String = "s6814") -> FakeSonosFavorite {
        FakeSonosFavorite(title: title, uri: "x-sonosapi-stream:\(station)?sid=254&flags=8224&sn=0",
                          metadata: radioMetadata(title: title, id: "F00092020\(station)"))
    }

    /// An album from a music service: a container, played through the queue.
    public static func album(_ title: String, tracks: Int = 3) -> FakeSonosFavorite {
        let id = "1004206calbum%3a\(title.utf8.reduce(0) { ($0 &* 31 &+ Int($1)) & 0xFFFFF })"
        let metadata = "<DIDL-Lite xmlns:dc=\"http://purl.org/dc/elements/1.1/\" "
            + "xmlns:upnp=\"urn:schemas-upnp-org:metadata-1-0/upnp/\" xmlns:r=\"urn:schemas-rinconnetworks-com:metadata-1-0/\" "
            + "xmlns=\"urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/\"><item id=\"\(id)\" parentID=\"-1\" restricted=\"true\">"
            + "<dc:title>\(xmlEscape(title))</dc:title><upnp:class>object.container.album.musicAlbum</upnp:class>"
            + "<desc id=\"cdudn\" nameSpace=\"urn:schemas-rinconnetworks-com:metadata-1-0/\">SA_RINCON52231_X_#Svc52231-0-Token</desc>"
            + "</item></DIDL-Lite>"
        return FakeSonosFavorite(title: title, uri: "x-rincon-cpcontainer:\(id)?sid=204&flags=8300&sn=1",
                                 metadata: metadata, tracks: tracks)
    }

    var isContainer: Bool { uri.hasPrefix("x-rincon-cpcontainer:") }
}

/// A Sonos playlist (a saved queue, SQ:<id>).
public struct FakeSonosPlaylist: Sendable, Equatable {
    public var id: Int
    public var title: String
    public var tracks: [QueueTrack]

    public init(id: Int, title: String, tracks: [QueueTrack]) {
        self.id = id
        self.title = title
        self.tracks = tracks
    }

    var uri: String { "file:///jffs/settings/savedqueues.rsq#\(id)" }
}

/// One alarm, with the attributes ListAlarms gives and UpdateAlarm takes.
public struct FakeSonosAlarm: Sendable, Equatable {
    public var id: Int
    public var startTime: String
    public var duration: String
    public var recurrence: String
    public var enabled: Bool
    public var roomUUID: String
    public var programURI: String
    public var programMetadata: String
    public var playMode: String
    public var volume: Int
    public var includeLinkedZones: Bool

    public init(id: Int, startTime: String = "07:00:00", duration: String = "02:00:00", recurrence: String = "DAILY",
                enabled: Bool = true, roomUUID: String, programURI: String = "x-rincon-buzzer:0", programMetadata: String = "",
                playMode: String = "SHUFFLE_NOREPEAT", volume: Int = 25, includeLinkedZones: Bool = false) {
        self.id = id
        self.startTime = startTime
        self.duration = duration
        self.recurrence = recurrence
        self.enabled = enabled
        self.roomUUID = roomUUID
        self.programURI = programURI
        self.programMetadata = programMetadata
        self.playMode = playMode
        self.volume = volume
        self.includeLinkedZones = includeLinkedZones
    }
}

extension FakeSonosHousehold {
    public func setFavorites(_ favorites: [FakeSonosFavorite]) { core.mutate { $0.library.favorites = favorites } }
    public func setPlaylists(_ playlists: [FakeSonosPlaylist]) { core.mutate { $0.library.playlists = playlists } }
    public func setAlarms(_ alarms: [FakeSonosAlarm]) {
        core.mutate {
            $0.library.alarms = alarms
            $0.library.alarmListVersion += 1
        }
    }
    public var alarms: [FakeSonosAlarm] { core.read { $0.library.alarms } }
}
