/// The one-line state `systemctl status` shows for the daemon (`STATUS=`): where the broker
/// connection stands and how many speakers the plugins serve.
public struct ServiceStatusLine: Sendable, Equatable {
    public var connected: Bool
    /// `host:port`.
    public var broker: String
    /// Why the last connection attempt or connection ended, when there was one.
    public var lastProblem: String?
    public var pluginsLoaded: Bool
    public var speakers: Int

    public init(connected: Bool, broker: String, lastProblem: String? = nil, pluginsLoaded: Bool, speakers: Int) {
        self.connected = connected
        self.broker = broker
        self.lastProblem = lastProblem
        self.pluginsLoaded = pluginsLoaded
        self.speakers = speakers
    }

    /// "connected to 10.0.0.2:1883; 3 speakers", "reconnecting to 10.0.0.2:1883: unreachable: …; 3 speakers",
    /// "connecting to 127.0.0.1:1883; loading plugins".
    public var text: String {
        let connection: String
        if connected {
            connection = "connected to \(broker)"
        } else if let lastProblem {
            connection = "reconnecting to \(broker): \(lastProblem)"
        } else {
            connection = "connecting to \(broker)"
        }
        let plugins = pluginsLoaded ? "\(speakers) speaker\(speakers == 1 ? "" : "s")" : "loading plugins"
        return connection + "; " + plugins
    }

    /// What `READY=1` waits for: a broker session and every plugin loaded (or refused).
    public var isReady: Bool { connected && pluginsLoaded }
}
