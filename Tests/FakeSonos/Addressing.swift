/// Where the players of a fake household listen.
public enum FakeSonosAddressing: Sendable, Equatable {
    /// Every player on 127.0.0.1 at an ephemeral port (what most tests use: nothing can collide).
    case ephemeral
    /// Player N (1-based) on `<prefix>.N:1400`, as real players listen on their own address at
    /// port 1400 (and the audioClip API on 1443). All of 127/8 is local on Linux, so a prefix such
    /// as "127.42.7" needs no setup; inside a lab namespace a prefix of the lab subnet puts player
    /// 1 on the host's own address.
    case loopback(prefix: String)

    /// The port real players answer UPnP on.
    public static let upnpPort = 1400
    /// The port of a real player's local (audioClip) API.
    public static let localAPIPort = 1443

    /// `.loopback` on a fresh random 127.x.y prefix, so parallel runs never share an address.
    public static func randomLoopback() -> FakeSonosAddressing {
        .loopback(prefix: "127.\(Int.random(in: 2...254)).\(Int.random(in: 1...254))")
    }

    /// The address player `index` (0-based) binds.
    func host(of index: Int) -> String {
        switch self {
        case .ephemeral: return "127.0.0.1"
        case .loopback(let prefix): return "\(prefix).\(index + 1)"
        }
    }

    /// The UPnP port player `index` binds first (0: ephemeral).
    var port: Int {
        switch self {
        case .ephemeral: return 0
        case .loopback: return FakeSonosAddressing.upnpPort
        }
    }
}
