import Foundation

/// The daemon's settings after YAML, `SPEAKERBRIDGE_*` environment variables and command-line flags
/// have been merged (flags win over the environment, the environment over the file).
///
/// Every field has a default, so an empty configuration is a working one: it starts the embedded
/// broker on 127.0.0.1 and keeps its state in the default state directory.
public struct Configuration: Sendable, Equatable {
    public var baseTopic: String = "speakerbridge"
    /// Where the client id, the lock, the journal and the embedded broker's files live.
    public var stateDirectory: String = Configuration.defaultStateDirectory()
    public var logLevel: LogLevel = .info
    public var mqtt = MQTT()
    public var embeddedBroker = EmbeddedBroker()
    public var journal = Journal()
    public var outbound = Outbound()
    public var plugins = Plugins()
    public var media = Media()
    public var network = Network()
    public var announcements = Announcements()
    public var homeAssistant = HomeAssistant()
    public var admin = Admin()

    public init() {}

    public enum LogLevel: String, Sendable, CaseIterable {
        case trace, debug, info, notice, warning, error, critical
    }

    /// An MQTT protocol version the session speaks on one connection.
    public enum ProtocolVersion: String, Sendable, CaseIterable {
        case v5 = "5"
        case v311 = "3.1.1"
    }

    /// `mqtt.protocol`: a fixed version, or `auto`: MQTT 5 first, 3.1.1 when a broker refuses 5
    /// (remembered per broker for the life of the process).
    public enum ProtocolChoice: String, Sendable, CaseIterable {
        case auto
        case v5 = "5"
        case v311 = "3.1.1"

        /// The version to try first.
        public var preferred: ProtocolVersion { self == .v311 ? .v311 : .v5 }
    }

    public struct MQTT: Sendable, Equatable {
        /// nil: no broker configured, so the daemon runs its own (see `EmbeddedBroker`).
        public var host: String? = nil
        public var port: Int = 1883
        /// `mqtt.brokers`: an ordered list tried in turn (failover); empty: `host`/`port` alone.
        public var brokers: [BrokerAddress] = []
        public var protocolChoice: ProtocolChoice = .auto
        /// Seconds between non-retained re-publications of bridge/state (0: none), for brokers
        /// whose retained messages stay on one node.
        public var heartbeat: Int = 60
        /// Seconds. The broker drops us after 1.5x this without traffic; we notice a dead link sooner.
        public var keepalive: Int = 30
        /// MQTT 5 Session Expiry Interval in seconds: how long the broker keeps our subscriptions and
        /// queued requests while we are away.
        public var sessionExpiry: Int = 7 * 24 * 3600
        /// nil: a stable id generated once per installation and kept in the state directory.
        public var clientID: String? = nil
        public var username: String? = nil
        /// Resolved secret; read from `password_file` or `SPEAKERBRIDGE_MQTT_PASSWORD`, never from YAML.
        public var password: Secret? = nil
        public var tls = TLS()
        public var reconnect = Reconnect()
        public var twin = Twin()
        /// Source address to bind, e.g. in a multi-homed host.
        public var bindAddress: String? = nil
        /// Bytes; a larger incoming message is answered with an error before it is copied or journalled.
        public var maxPayload: Int = 256 << 10
        /// MQTT topic filters a requester's MQTT 5 response topic must match (`+`/`#` wildcards;
        /// `{base}` stands for the base topic). Empty: the default rule of `ResponseTopicPolicy`.
        public var responseTopics: [String] = []

        public init() {}
    }

    public struct TLS: Sendable, Equatable {
        public var enabled: Bool = false
        public var caFile: String? = nil
        public var certFile: String? = nil
        public var keyFile: String? = nil
        /// Skip host name verification (the certificate chain is still checked).
        public var insecure: Bool = false
        public init() {}
    }

    /// Exponential backoff with full jitter: delay n is uniform in [0, min(max, min * 2^n)].
    public struct Reconnect: Sendable, Equatable {
        public var minDelay: Double = 1
        public var maxDelay: Double = 60
        /// A connection that lasts this long resets the backoff.
        public var stableAfter: Double = 30
        /// Give up on a TCP/TLS connect that has not finished after this long.
        public var connectTimeout: Double = 10
        public init() {}
    }

    /// Another client using our client id shows up as connections the broker closes right after they
    /// are made. After `threshold` such connections in a row the twin is reported.
    public struct Twin: Sendable, Equatable {
        public var threshold: Int = 3
        /// A connection closed by the broker within this many seconds counts as "kicked".
        public var window: Double = 10
        public init() {}
    }

    public struct EmbeddedBroker: Sendable, Equatable {
        public var port: Int = 1883
        /// The mosquitto executable to run.
        public var executable: String = "mosquitto"
        /// false: only clients with the generated password in the state directory get in.
        public var allowAnonymous: Bool = false
        public init() {}
    }

    public enum Durability: String, Sendable, CaseIterable {
        /// write(2) before the PUBACK: survives a crash or kill -9 of the daemon.
        case process
        /// fsync(2) before the PUBACK: survives power loss, at a cost per request.
        case fsync
    }

    public struct Journal: Sendable, Equatable {
        public var durability: Durability = .process
        /// How long a finished request id is remembered so a repeat is not processed again (seconds).
        public var dedupWindow: Double = 24 * 3600
        /// A request that was being processed during this many unclean exits is quarantined.
        public var maxAttempts: Int = 2
        /// Unfinished requests kept at most; past it a new request is refused with an error answer.
        public var maxPending: Int = 10_000
        public init() {}
    }

    public struct Outbound: Sendable, Equatable {
        /// Messages kept while the broker is unreachable; past it the oldest events are dropped
        /// (counted and reported), retained state topics keep only their latest value.
        public var maxMessages: Int = 10_000
        public init() {}
    }

    public struct Plugins: Sendable, Equatable {
        /// Folders with plugin shared objects, separated by ':' like PATH. nil: `<state_dir>/plugins`.
        public var path: String? = nil
        /// How long one call into a plugin may take before it is reported as hung.
        public var callTimeout: Double = 5
        /// How long a long operation (play a clip) may take unless it says otherwise.
        public var operationTimeout: Double = 300
        /// Reload plugins when their files change (drop-in, replace, remove).
        public var watch: Bool = true
        /// How often the plugin folders are checked for changes; a change must be stable this long.
        public var watchInterval: Double = 0.5
        /// Where plugin code runs: in a plugin host process of its own (the default: the isolation
        /// bench measured its cost on the announcement path within noise, README "Crash-isolated
        /// plugins"), or in the daemon's process.
        public var isolation: PluginIsolation = .process
        /// Per-plugin exceptions to `isolation`, by file name without `.so` (as its settings file).
        public var isolationOverrides: [String: PluginIsolation] = [:]
        /// An isolated plugin's address-space cap (RLIMIT_AS), in MiB.
        public var memoryLimitMB: Int = 4096
        /// An isolated plugin's open-file cap (RLIMIT_NOFILE).
        public var openFilesLimit: Int = 256
        public init() {}
    }

    /// The HTTP server the speakers fetch clips from.
    public struct Media: Sendable, Equatable {
        /// Address to listen on; speakers on the LAN must reach it. "": the IPv4 address of
        /// `network.interface` (plus 127.0.0.1).
        public var bind: String = ""
        /// 0 picks a free port at start.
        public var port: Int = 0
        /// The host name or address to put in clip URLs; nil: the address on the route to each speaker.
        public var advertise: String? = nil
        /// Memory for clips waiting to be fetched; the oldest go first past it.
        public var maxBytes: Int = 64 << 20
        /// Open connections at most; more are closed at once.
        public var maxConnections: Int = 256
        /// Open connections from one remote address at most (loopback included); more are closed at once.
        public var maxConnectionsPerHost: Int = 32
        /// Seconds a connection may sit without sending or receiving.
        public var idleTimeout: Double = 30
        /// Seconds a client has to send a whole request head (slowloris).
        public var headerTimeout: Double = 10
        /// Plugin callback requests (GENA NOTIFY) handled at once; more are answered 503.
        public var maxCallbackRequests: Int = 32
        public init() {}
    }

    /// The LAN side of plugins' host services.
    public struct Network: Sendable, Equatable {
        /// The interface plugins' UDP sockets (SSDP discovery) use when they name none: a name
        /// ("eth0") or one of its IPv4 addresses. "": the first up, non-loopback, multicast-capable
        /// IPv4 interface.
        public var interface: String = ""
        public init() {}
    }

    /// Announcements waiting for their speakers.
    public struct Announcements: Sendable, Equatable {
        /// Announcements queued per speaker at most; past it a new one fails with a reason.
        public var maxQueue: Int = 100
        public init() {}
    }

    /// Home Assistant MQTT discovery: retained configs that make the bridge and every speaker appear
    /// as devices with entities, without hand-written automations.
    public struct HomeAssistant: Sendable, Equatable {
        public var enabled: Bool = true
        /// Home Assistant's `discovery_prefix`; its birth message is `<prefix>/status` = `online`.
        public var discoveryPrefix: String = "homeassistant"
        /// A speaker unseen this long (seconds) has its discovery configs removed.
        public var removeAfter: Double = 7 * 24 * 3600
        public init() {}
    }

    /// The admin HTTP listener (`/metrics`, `/healthz`), apart from the media server the LAN reaches.
    public struct Admin: Sendable, Equatable {
        /// "" switches the listener off.
        public var bind: String = "127.0.0.1"
        /// 0 picks a free port at start.
        public var port: Int = 8180
        /// `admin.token_file`: where the token came from (for messages); the token itself below.
        public var tokenFile: String? = nil
        /// The status page's token, read from `token_file`; required on a bind other than loopback.
        public var token: Secret? = nil
        public init() {}
    }

    /// The plugin folders, in search order.
    public var pluginDirectories: [String] {
        (plugins.path ?? stateDirectory + "/plugins").split(separator: ":").map(String.init).filter { !$0.isEmpty }
    }

    /// True when the daemon should start its own mosquitto.
    public var usesEmbeddedBroker: Bool { mqtt.host == nil && mqtt.brokers.isEmpty }

    /// The brokers the session may use, in the order it tries them: `mqtt.brokers`, else
    /// `mqtt.host`/`mqtt.port`, else the embedded broker.
    public var brokerList: [BrokerAddress] {
        if !mqtt.brokers.isEmpty { return mqtt.brokers }
        return [BrokerAddress(host: mqtt.host ?? "127.0.0.1", port: usesEmbeddedBroker ? embeddedBroker.port : mqtt.port)]
    }

    /// The first broker: the one one-shot clients (say, health, doctor) ask first.
    public var brokerHost: String { brokerList[0].host }
    public var brokerPort: Int { brokerList[0].port }

    public static func defaultStateDirectory() -> String {
        if geteuid() == 0 { return "/var/lib/speakerbridge" }
        let env = ProcessInfo.processInfo.environment
        if let xdg = env["XDG_STATE_HOME"], !xdg.isEmpty { return xdg + "/speakerbridge" }
        return (env["HOME"] ?? NSTemporaryDirectory()) + "/.local/state/speakerbridge"
    }
}

/// A value that must never reach a log line or a printed configuration.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}
