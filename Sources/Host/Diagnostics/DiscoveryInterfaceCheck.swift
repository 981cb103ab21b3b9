import Foundation

/// The interface the plugins' SSDP discovery uses, chosen by the daemon's own rule
/// (`NetworkInterfaces.resolve` of `network.interface`): up, not loopback, multicast on.
enum DiscoveryInterfaceCheck {
    static func check(_ config: Configuration, _ chosen: Result<IPv4Interface, NetworkInterfaces.Problem>) -> DoctorCheck {
        let name = "network interface"
        let candidates = NetworkInterfaces.list().ipv4.filter { $0.isUp && !$0.isLoopback }
            .map { "\($0.name) (\($0.address))" }.joined(separator: ", ")
        let pick = candidates.isEmpty ? "bring up the interface of the speakers' LAN" : "set network.interface to one of: \(candidates)"
        let how = config.network.interface.isEmpty ? "the first up, non-loopback, multicast-capable one (network.interface is empty)"
                                                   : "network.interface: \(config.network.interface)"
        switch chosen {
        case .failure(let problem):
            return .fail(name, "no interface for discovery: \(problem.description)", fix: pick)
        case .success(let i):
            let which = "\(i.name) (\(i.address))"
            if i.isLoopback {
                return .warn(name, "\(which) is loopback: discovery finds speakers on this machine only", details: ["chosen by \(how)"], fix: pick)
            }
            if !i.supportsMulticast {
                return .fail(name, "\(which) is up but multicast is off: SSDP discovery cannot find speakers", details: ["chosen by \(how)"],
                             fix: "ip link set \(i.name) multicast on (and in its network configuration), or \(pick)")
            }
            return .ok(name, "\(which) is up with multicast", details: ["chosen by \(how)"])
        }
    }
}
