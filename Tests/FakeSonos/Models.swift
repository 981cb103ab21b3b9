/// The Sonos product a fake player is: what its device description, its Server header and the
/// topology say about it, and which extra services it has. One model per player, so the
/// description and the local API's `/info` never disagree.
public struct FakeSonosModel: Sendable, Equatable {
    /// `<modelNumber>`, e.g. "S38"; also in the Server header as `(ZP<number>)`.
    public let number: String
    /// `<modelName>`, e.g. "Sonos Era 100".
    public let name: String
    /// `<displayName>`, e.g. "Era 100".
    public let displayName: String
    /// A soundbar: HTControl service (TV input, night mode, dialog level).
    public let htControl: Bool
    /// An analog input: AudioIn service (line-in).
    public let audioIn: Bool
    /// A Boost/Bridge: no audio (no MediaRenderer or MediaServer device, no AVTransport), listed
    /// with `IsZoneBridge="1"` in the topology.
    public let isZoneBridge: Bool

    public init(number: String, name: String, displayName: String, htControl: Bool = false, audioIn: Bool = false,
                isZoneBridge: Bool = false) {
        self.number = number
        self.name = name
        self.displayName = displayName
        self.htControl = htControl
        self.audioIn = audioIn
        self.isZoneBridge = isZoneBridge
    }

    // Model numbers and which models carry HTControl/AudioIn: svrooij/node-sonos-ts, its
    // docs/sonos-device/services/*.md ("available on these models", generated from real devices:
    // HTControl on S14 and S9, AudioIn on S6, S38 among the S2 speakers) and its
    // src/tests/services/responses/device_description.xml (a Playbar, S9).

    /// The default: an S2 speaker with the audioClip API (its `/info` says S38 "Era 100").
    public static let era100 = FakeSonosModel(number: "S38", name: "Sonos Era 100", displayName: "Era 100")
    public static let one = FakeSonosModel(number: "S13", name: "Sonos One", displayName: "One")
    public static let beam = FakeSonosModel(number: "S14", name: "Sonos Beam", displayName: "Beam", htControl: true)
    public static let playbar = FakeSonosModel(number: "S9", name: "Sonos Playbar", displayName: "Playbar", htControl: true)
    public static let play5 = FakeSonosModel(number: "S6", name: "Sonos Play:5", displayName: "Play:5", audioIn: true)
    /// A Sonos Boost. Its model number is not in the sources above; "WD100" is what the Boost's
    /// description is known to carry, and nothing in a driver should depend on it.
    public static let boost = FakeSonosModel(number: "WD100", name: "Sonos Boost", displayName: "Boost", isZoneBridge: true)

    var serverHeader: String { "Linux UPnP/1.0 Sonos/\(SonosIdentity.softwareVersion) (ZP\(number))" }
}
