/// Behaviours of real Sonos players that are harder on a driver than the textbook UPnP device the
/// fake started as. Each one can be switched on by itself, so a test shows the driver handles that
/// one behaviour; `.real` switches on all of them (what the `fake-sonos` executable serves by
/// default), `.kind` none (the textbook device).
public struct FakeSonosQuirks: Sendable, Equatable {
    /// AVTransport LastChange events after the initial one carry only the variables that changed
    /// (often without AVTransportURI), as real players send them.
    public var partialEvents: Bool
    /// A group member reports `x-rincon:<coordinator>` as its AVTransportURI and track URI,
    /// NOT_IMPLEMENTED for track metadata, duration and position, and PLAYING as its transport
    /// state whatever the coordinator does (it plays the group's stream), instead of a copy of the
    /// coordinator's track and state.
    public var memberReportsCoordinator: Bool
    /// The fault codes real players answer: Seek on a member 701, SetPlayMode on a member or without
    /// an active queue 712, GroupRenderingControl on a member 701 ("Player isn't the coordinator").
    /// Off: 800 for each, as the fake used to.
    public var realFaultCodes: Bool
    /// GetZoneGroupState answers 501 on households with more players than this (real players do
    /// from about 20 players on: the topology comes from ZoneGroupTopology events then). nil: never.
    public var zoneGroupStateLimit: Int?
    /// The audioClip API sends `audioClipStatus` events only to a connection that sent
    /// `{"namespace":"audioClip:1","command":"subscribe"}` for the player.
    public var audioClipSubscribeBeforeEvents: Bool
    /// Closing the audioClip WebSocket does not stop the clip (only `cancelAudioClip` does), as on
    /// a real player.
    public var audioClipOutlivesSocket: Bool

    public init(partialEvents: Bool = false, memberReportsCoordinator: Bool = false, realFaultCodes: Bool = false,
                zoneGroupStateLimit: Int? = nil, audioClipSubscribeBeforeEvents: Bool = false,
                audioClipOutlivesSocket: Bool = false) {
        self.partialEvents = partialEvents
        self.memberReportsCoordinator = memberReportsCoordinator
        self.realFaultCodes = realFaultCodes
        self.zoneGroupStateLimit = zoneGroupStateLimit
        self.audioClipSubscribeBeforeEvents = audioClipSubscribeBeforeEvents
        self.audioClipOutlivesSocket = audioClipOutlivesSocket
    }

    /// The textbook device: none of the quirks.
    public static let kind = FakeSonosQuirks()
    /// Every behaviour as real players show it.
    public static let real = FakeSonosQuirks(partialEvents: true, memberReportsCoordinator: true, realFaultCodes: true,
                                             zoneGroupStateLimit: 20, audioClipSubscribeBeforeEvents: true,
                                             audioClipOutlivesSocket: true)
}
