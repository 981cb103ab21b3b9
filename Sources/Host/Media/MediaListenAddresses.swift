import Foundation
import Logging

/// Where the media server listens, from `media.bind` and `network.interface`.
public enum MediaListenAddresses {
    /// `bind` when one is configured (any address, "0.0.0.0" included, is taken as it is).
    /// Otherwise (""): the IPv4 address of `network.interface` (a name, an address, or "" for the
    /// first up, non-loopback, multicast-capable interface, as the plugins' UDP sockets use)
    /// plus 127.0.0.1 — speakers on the LAN reach the first, the daemon's own tools the second,
    /// and nothing else on the machine's other networks reaches either. With no such interface
    /// (a container without a LAN) only 127.0.0.1, and a warning that speakers cannot reach it.
    public static func resolve(bind: String, interface: String, logger: Logger) -> [String] {
        let configured = bind.trimmingCharacters(in: .whitespaces)
        if !configured.isEmpty { return [configured] }
        do throws(NetworkInterfaces.Problem) {
            let found = try NetworkInterfaces.resolve("", defaultInterface: interface)
            return found.address == "127.0.0.1" ? ["127.0.0.1"] : [found.address, "127.0.0.1"]
        } catch {
            logger.warning("media server: listening on 127.0.0.1 only, speakers on the LAN cannot fetch clips: \(error.description) (or set media.bind)")
            return ["127.0.0.1"]
        }
    }
}
