import Foundation

/// `speakerbridge doctor`: every check, in the order a problem upstream explains the ones below it
/// (no broker, no daemon to ask). The checks read the configuration, this machine and what the
/// daemon said; they send nothing anywhere.
public enum Doctor {
    /// `file`: the YAML file the configuration was read from, if any; `brokers`: every broker of the
    /// list as the probe found it, in order.
    public static func report(config: Configuration, file: String?, brokers: [BrokerProbe.Probed], daemon: DaemonAnswers) -> DoctorReport {
        let chosen = Result { () throws(NetworkInterfaces.Problem) in try NetworkInterfaces.resolve("", defaultInterface: config.network.interface) }
        let lock = StateLock.holder(stateDirectory: config.stateDirectory)
        // The trust check reads a TLS handshake: the first broker spoken to over TLS had one.
        let handshake = brokers.first { $0.broker.usesTLS(config.mqtt) } ?? brokers.first
        return DoctorReport(checks: [ConfigurationCheck.loaded(config, file: file)] + BrokerCheck.checks(config, brokers) + [
            TLSTrustCheck.check(config, handshake?.outcome ?? .noAnswer("no broker")),
            SessionCheck.check(config, daemon, lock: lock),
            TwinCheck.check(config, daemon),
            StateDirectoryCheck.check(config, lock: lock),
            PluginFolderCheck.check(config, daemon),
            SpeakerDriversCheck.check(config, daemon),
            DiscoveryInterfaceCheck.check(config, chosen),
            MediaAddressCheck.check(config, chosen),
            VoicesCheck.check(config, daemon),
            HomeAssistantCheck.check(config, daemon),
        ])
    }

    /// The report when the configuration itself does not load: the other checks would read a guess.
    public static func report(configurationProblems: String) -> DoctorReport {
        DoctorReport(checks: [ConfigurationCheck.failed(configurationProblems)])
    }
}
