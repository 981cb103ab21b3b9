import Foundation

// The state of one fake player: what a real Sonos keeps per zone player and reports through
// AVTransport, RenderingControl and GroupRenderingControl. Plain values; HouseholdCore owns them
// behind its lock.

/// AVTransport `TransportState` values as Sonos reports them.
public enum TransportState: String, Sendable, Equatable {
    case playing = "PLAYING"
    case pausedPlayback = "PAUSED_PLAYBACK"
    case stopped = "STOPPED"
    case transitioning = "TRANSITIONING"
}

/// The play modes Sonos accepts in SetPlayMode (anything else is UPnP error 712).
public let sonosPlayModes = ["NORMAL", "REPEAT_ALL", "REPEAT_ONE", "SHUFFLE_NOREPEAT", "SHUFFLE", "SHUFFLE_REPEAT_ONE"]

/// One track of a player's queue (`x-rincon-queue:<uuid>#0`).
public struct QueueTrack: Sendable, Equatable {
    public var uri: String
    public var title: String
    public var duration: TimeInterval
    /// `dc:creator`, where Sonos puts a track's artist; nil: none.
    public var artist: String?

    public init(uri: String, title: String = "Track", duration: TimeInterval = 240, artist: String? = nil) {
        self.uri = uri
        self.title = title
        self.duration = duration
        self.artist = artist
    }

    /// DIDL-Lite the way Sonos returns queue items in TrackMetaData.
    var metadata: String {
        didl(id: "-1", parentID: "-1", title: title, upnpClass: "object.item.audioItem.musicTrack",
             res: uri, protocolInfo: "sonos.com-http:*:audio/mpeg:*", duration: duration, creator: artist)
    }
}

/// What a test puts a player into before the driver touches it. Each case produces the
/// AVTransportURI a real Sonos reports for that source.
public enum PriorSource: Sendable, Equatable {
    /// Playing (or paused in) its own queue: `x-rincon-queue:<uuid>#0`, 1-based `track`.
    case queue(tracks: [QueueTrack], track: Int, position: TimeInterval)
    /// A radio stream, e.g. `x-sonosapi-stream:s12345?sid=254&flags=8224&sn=0` with its DIDL.
    case radio(uri: String, metadata: String)
    /// Its own analog line-in: `x-rincon-stream:<uuid>`.
    case lineIn
    /// A soundbar's TV input: `x-sonos-htastream:<uuid>:spdif`.
    case tv
    /// A cloud queue / Spotify Connect session: `x-sonos-vli:<uuid>:2,spotify:<id>`.
    case cloudQueue(id: String)
    /// An AirPlay session: `x-sonos-vli:<uuid>:1,airplay:<id>`.
    case airplay(id: String)
    /// Nothing set (a fresh player).
    case empty
}

/// What the current AVTransportURI is, by its scheme (the same test a real controller does).
enum SourceKind: Equatable {
    case empty, queue, http, radio, lineIn, tv, virtualLineIn, groupMember(coordinator: String), other

    init(uri: String) {
        switch true {
        case uri.isEmpty: self = .empty
        case uri.hasPrefix("x-rincon-queue:"): self = .queue
        case uri.hasPrefix("x-rincon:"): self = .groupMember(coordinator: String(uri.dropFirst("x-rincon:".count)))
        case uri.hasPrefix("x-rincon-stream:"): self = .lineIn
        case uri.hasPrefix("x-sonos-htastream:"): self = .tv
        case uri.hasPrefix("x-sonos-vli:"): self = .virtualLineIn
        case uri.hasPrefix("http://"), uri.hasPrefix("https://"): self = .http
        case uri.hasPrefix("x-sonosapi-stream:"), uri.hasPrefix("x-sonosapi-radio:"), uri.hasPrefix("x-rincon-mp3radio:"),
             uri.hasPrefix("aac:"), uri.hasPrefix("x-sonosapi-hls:"): self = .radio
        default: self = .other
        }
    }

    /// Streams without a track position a controller could seek in.
    var isStream: Bool {
        switch self {
        case .radio, .lineIn, .tv, .virtualLineIn: return true
        default: return false
        }
    }
}

/// Per-player state. Internal: tests see it through FakeSonosPlayer.
struct PlayerModel {
    let index: Int
    let name: String
    let uuid: String
    let fixedVolume: Bool
    let audioClip: Bool
    let model: FakeSonosModel
    /// Index of the player this one is an invisible satellite (surround/sub) or the right
    /// speaker of a stereo pair of (`bond` says which).
    let satelliteOf: Int?
    let bond: Bond

    enum Bond { case satellite, stereoRight }

    // RenderingControl
    var volume = 20
    var mute = false
    var channelVolume = ["LF": 100, "RF": 100]

    // AVTransport
    var transport: TransportState = .stopped
    var playMode = "NORMAL"
    var uri = ""
    var uriMetadata = ""
    var queue: [QueueTrack] = []
    var track = 0  // 1-based; 0 when there is none
    /// Position at `playingSince` (or the frozen position when not playing).
    var positionAnchor: TimeInterval = 0
    var playingSince: ContinuousClock.Instant?
    /// Duration of the fetched HTTP clip, once known.
    var clipDuration: TimeInterval?
    /// Bumped on every transport change, so stale timers and fetches know they are stale.
    var generation = 0

    // Topology
    var coordinator: String  // own uuid when standalone / coordinator
    var groupID: String
    var groupVolumeSnapshot: [String: Int]?
    /// In its group because a controller sent it SetAVTransportURI x-rincon: (a group-mode
    /// announcement's temporary group), not grouped by the user in the app: a URI taking it out
    /// again is that controller's business, not a broken user group.
    var groupedOverUPnP = false

    // Faults
    var online = true
    /// Why the household lists it in VanishedDevices ("powered off", "sleeping"); nil: not vanished.
    var vanishedReason: String?
    /// Counts the player's boots: in the topology (BootSeq) and SSDP (X-RINCON-BOOTSEQ), one more
    /// after every reboot.
    var bootSeq = 42
    var responseDelay: TimeInterval = 0
    var pendingFaults: [String: [Int]] = [:]

    // Inspection
    var soapLog: [SOAPCall] = []
    var fetchedClips: [FetchedClip] = []
    var violations: [Violation] = []
    var eventsSent: [SentEvent] = []
    /// The RenderingControl elements of the last event, to send only what changed (partialEvents).
    var lastRCElements: [String: String] = [:]

    // GENA
    var subscriptions: [String: Subscription] = [:]

    // Sonos-only settings the typed commands change (PlayerSettings.swift)
    var settings = PlayerSettings()
    var lastEventBodies: [UPnPService: String] = [:]
    /// The AVTransport variables of the last event, to send only what changed (partialEvents).
    var lastAVTVariables: [String: String] = [:]

    init(index: Int, options: FakeSonosPlayerOptions, uuid: String, satelliteOf: Int?, bond: Bond = .satellite) {
        self.index = index
        self.name = options.name
        self.uuid = uuid
        self.fixedVolume = options.fixedVolume
        self.audioClip = options.audioClip
        self.model = options.model
        self.satelliteOf = satelliteOf
        self.bond = bond
        self.coordinator = uuid
        self.groupID = "\(uuid):1"
        self.volume = options.fixedVolume ? 100 : options.volume
    }

    var isStandaloneCoordinator: Bool { coordinator == uuid }
    var queueURI: String { "x-rincon-queue:\(uuid)#0" }
    var sourceKind: SourceKind { SourceKind(uri: uri) }

    func position(at now: ContinuousClock.Instant) -> TimeInterval {
        var p = positionAnchor
        if let since = playingSince {
            let d = now - since
            p += Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }
        let duration = trackDuration
        return duration > 0 ? min(p, duration) : p
    }

    var trackDuration: TimeInterval {
        switch sourceKind {
        case .queue: return queue.indices.contains(track - 1) ? queue[track - 1].duration : 0
        case .http: return clipDuration ?? 0
        default: return 0
        }
    }

    var numberOfTracks: Int {
        switch sourceKind {
        case .empty: return 0
        case .queue: return queue.count
        default: return 1
        }
    }

    var currentTrackNumber: Int {
        switch sourceKind {
        case .empty: return 0
        case .queue: return queue.isEmpty ? 0 : track
        default: return 1
        }
    }

    var currentTrackURI: String {
        switch sourceKind {
        case .queue: return queue.indices.contains(track - 1) ? queue[track - 1].uri : ""
        default: return uri
        }
    }

    var currentTrackMetadata: String {
        switch sourceKind {
        case .queue: return queue.indices.contains(track - 1) ? queue[track - 1].metadata : ""
        default: return uriMetadata
        }
    }

    /// Freezes the wall-clock position (before any transport change).
    mutating func freezePosition(at now: ContinuousClock.Instant) {
        positionAnchor = position(at: now)
        playingSince = nil
    }

    mutating func setTransport(_ state: TransportState, at now: ContinuousClock.Instant) {
        freezePosition(at: now)
        transport = state
        if state == .playing { playingSince = now }
        generation += 1
    }

    mutating func apply(_ source: PriorSource) {
        uriMetadata = ""
        clipDuration = nil
        positionAnchor = 0
        playingSince = nil
        generation += 1
        switch source {
        case .queue(let tracks, let track, let position):
            queue = tracks
            self.track = tracks.isEmpty ? 0 : max(1, min(track, tracks.count))
            positionAnchor = position
            uri = queueURI
        case .radio(let u, let metadata):
            uri = u
            uriMetadata = metadata
        case .lineIn: uri = "x-rincon-stream:\(uuid)"
        case .tv: uri = "x-sonos-htastream:\(uuid):spdif"
        case .cloudQueue(let id): uri = "x-sonos-vli:\(uuid):2,spotify:\(id)"
        case .airplay(let id): uri = "x-sonos-vli:\(uuid):1,airplay:\(id)"
        case .empty: uri = ""
        }
    }
}

// MARK: - Inspection records

/// One SOAP request as the player received it.
public struct SOAPCall: Sendable, Equatable, CustomStringConvertible {
    public let service: String   // "AVTransport", "RenderingControl", …
    public let action: String
    public let args: [String: String]
    /// The UPnP error code the player answered with, nil on success.
    public let faultCode: Int?
    public var description: String { "\(service)#\(action)\(args)\(faultCode.map { " → \($0)" } ?? "")" }
}

/// A clip URL the player fetched after Play.
public struct FetchedClip: Sendable, Equatable {
    public let url: String
    public let httpStatus: Int?
    public let bytes: Int
    public let contentType: String?
    /// From the WAV header (data size / byte rate), or an MP3 frame-header estimate.
    public let duration: TimeInterval?
    /// Why playback failed (unreachable, HTTP error, not audio…), nil when it played.
    public let error: String?
}

/// Something a well-behaved controller must never do, recorded when the player sees it.
public struct Violation: Sendable, Equatable, CustomStringConvertible {
    public let action: String
    public let reason: String
    public var description: String { "\(action): \(reason)" }
}

/// A GENA NOTIFY the player sent (or tried to).
public struct SentEvent: Sendable, Equatable {
    public let service: String
    public let sid: String
    public let seq: Int
    public let callback: String
    public let body: String
    /// HTTP status the subscriber answered, nil if the delivery failed or is still pending.
    public var status: Int?
}

// MARK: - Formatting helpers

/// "H:MM:SS" as Sonos writes RelTime / TrackDuration.
func hms(_ t: TimeInterval) -> String {
    let s = max(0, Int(t.rounded(.down)))
    return String(format: "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60)
}

/// Parses "H:MM:SS" (Seek REL_TIME targets); nil if malformed.
func parseHMS(_ s: String) -> TimeInterval? {
    let parts = s.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 3, let h = Int(parts[0]), let m = Int(parts[1]), m < 60 else { return nil }
    let secParts = parts[2].split(separator: ".")
    guard let sec = Int(secParts[0]), sec < 60 else { return nil }
    return TimeInterval(h * 3600 + m * 60 + sec)
}

/// Over UTF-8 bytes: event bodies escape whole documents (ZoneGroupState, LastChange) for every
/// player on every change, and walking Characters made that most of the fake's cost at 32 players.
func xmlEscape(_ s: String) -> String {
    var out: [UInt8] = []
    out.reserveCapacity(s.utf8.count + s.utf8.count / 4)
    for b in s.utf8 {
        switch b {
        case UInt8(ascii: "&"): out.append(contentsOf: "&amp;".utf8)
        case UInt8(ascii: "<"): out.append(contentsOf: "&lt;".utf8)
        case UInt8(ascii: ">"): out.append(contentsOf: "&gt;".utf8)
        case UInt8(ascii: "\""): out.append(contentsOf: "&quot;".utf8)
        case UInt8(ascii: "'"): out.append(contentsOf: "&apos;".utf8)
        default: out.append(b)
        }
    }
    return String(decoding: out, as: UTF8.self)
}

/// A DIDL-Lite document with one item, in Sonos's namespace set.
func didl(id: String, parentID: String, title: String, upnpClass: String, res: String?, protocolInfo: String,
          duration: TimeInterval?, creator: String? = nil) -> String {
    let resElement = res.map { r in
        let dur = duration.map { " duration=\"\(hms($0))\"" } ?? ""
        return "<res protocolInfo=\"\(xmlEscape(protocolInfo))\"\(dur)>\(xmlEscape(r))</res>"
    } ?? ""
    return "<DIDL-Lite xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:upnp=\"urn:schemas-upnp-org:metadata-1-0/upnp/\" "
        + "xmlns:r=\"urn:schemas-rinconnetworks-com:metadata-1-0/\" xmlns=\"urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/\">"
        + "<item id=\"\(xmlEscape(id))\" parentID=\"\(xmlEscape(parentID))\" restricted=\"true\">\(resElement)"
        + "<dc:title>\(xmlEscape(title))</dc:title>" + (creator.map { "<dc:creator>\(xmlEscape($0))</dc:creator>" } ?? "")
        + "<upnp:class>\(upnpClass)</upnp:class></item></DIDL-Lite>"
}

/// DIDL for a radio station, the shape Sonos favourites use (`r:description`, SA_RINCON desc).
public func radioMetadata(title: String, id: String = "F00092020s12345") -> String {
    "<DIDL-Lite xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:upnp=\"urn:schemas-upnp-org:metadata-1-0/upnp/\" "
        + "xmlns:r=\"urn:schemas-rinconnetworks-com:metadata-1-0/\" xmlns=\"urn:schemas-upnp-org:metadata-1-0/DIDL-Lite/\">"
        + "<item id=\"\(xmlEscape(id))\" parentID=\"L\" restricted=\"true\"><dc:title>\(xmlEscape(title))</dc:title>"
        + "<upnp:class>object.item.audioItem.audioBroadcast</upnp:class>"
        + "<desc id=\"cdudn\" nameSpace=\"urn:schemas-rinconnetworks-com:metadata-1-0/\">SA_RINCON65031_</desc></item></DIDL-Lite>"
}
