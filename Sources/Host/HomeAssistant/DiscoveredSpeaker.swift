/// A speaker as discovery describes it: what its driver reports and which typed commands the
/// driver declares, since only declared commands become controls in Home Assistant.
public struct DiscoveredSpeaker: Sendable, Equatable {
    public struct Command: Sendable, Equatable {
        public let name: String
        public let signature: CommandSignature

        public init(name: String, signature: CommandSignature) {
            self.name = name
            self.signature = signature
        }
    }

    public let speaker: SpeakerInfo
    /// The plugin id of the driver.
    public let driver: String
    /// The driver's vendor: the speaker ABI (`sb_speaker_info`) has a model but no manufacturer.
    public let manufacturer: String
    public let driverVersion: String
    public let commands: [Command]

    public init(speaker: SpeakerInfo, driver: String, manufacturer: String, driverVersion: String, commands: [Command]) {
        self.speaker = speaker
        self.driver = driver
        self.manufacturer = manufacturer
        self.driverVersion = driverVersion
        self.commands = commands
    }

    public var id: String { speaker.id }

    public func command(_ name: String) -> Command? { commands.first { $0.name == name } }
}

/// Where discovery reads the speakers from (the plugin registry in the daemon).
public protocol HomeAssistantSpeakerSource: Sendable {
    var discoveredSpeakers: [DiscoveredSpeaker] { get }
}
