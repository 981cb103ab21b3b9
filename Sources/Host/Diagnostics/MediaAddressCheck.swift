import Foundation

/// Can the speakers fetch clips: the media server's listen address (`media.bind`) and the address put
/// in clip URLs (`media.advertise`) against the subnet of the discovery interface, where the speakers are.
enum MediaAddressCheck {
    static func check(_ config: Configuration, _ chosen: Result<IPv4Interface, NetworkInterfaces.Problem>) -> DoctorCheck {
        let name = "media address"
        let local = NetworkInterfaces.list().ipv4
        guard case .success(let lan) = chosen, !lan.isLoopback else {
            if config.media.bind.isEmpty {
                return .fail(name, "no LAN interface: the media server listens on 127.0.0.1 only, which speakers cannot reach",
                             fix: "fix the network interface check first (media.bind \"\" follows network.interface)")
            }
            return .warn(name, "media.bind \(config.media.bind); the speakers' subnet is unknown (see network interface)", fix: nil)
        }
        let subnet = InterfaceSubnet.of(interface: lan.name, address: lan.address)
        let speakers = subnet.map { "the speakers' subnet \($0) on \(lan.name)" } ?? "\(lan.name)"
        let inSubnet = { (address: String) in subnet?.contains(address) ?? (address == lan.address) }
        var verdict = DoctorCheck.Verdict.ok
        var summary: String
        var details: [String] = []
        var fix: String? = nil
        let bind = config.media.bind
        if bind.isEmpty {
            summary = "clips are served on \(lan.address) and 127.0.0.1, in \(speakers)"
        } else if bind == "0.0.0.0" {
            summary = "clips are served on every address (media.bind 0.0.0.0), \(lan.address) in \(speakers) among them"
        } else if LoopbackName.contains(bind) {
            verdict = .warn
            summary = "media.bind \(bind) is loopback: only speakers on this machine can fetch clips"
            fix = "set media.bind to \"\" (the address of \(lan.name)) so speakers on \(speakers) can fetch clips"
        } else if !local.contains(where: { $0.address == bind }) {
            verdict = .fail
            summary = "media.bind \(bind) is not an address of this machine: the media server cannot listen there"
            fix = "set media.bind to \"\" or to \(lan.address)"
        } else if inSubnet(bind) {
            summary = "clips are served on \(bind), in \(speakers)"
        } else {
            verdict = .warn
            summary = "media.bind \(bind) is outside \(speakers): speakers reach it only through a router"
            fix = "set media.bind to \"\" or to \(lan.address)"
        }
        if let advertised = config.media.advertise {
            if InterfaceSubnet.parse(advertised) == nil {
                details.append("clip URLs name \(advertised) (media.advertise): the speakers must resolve that name; the doctor does not look it up")
            } else if inSubnet(advertised) {
                details.append("clip URLs name \(advertised) (media.advertise), in \(speakers)")
            } else if local.contains(where: { $0.address == advertised }) {
                details.append("clip URLs name \(advertised) (media.advertise), an address of this machine outside \(speakers): speakers reach it only through a router")
                if verdict == .ok { verdict = .warn; fix = "set media.advertise to \(lan.address), or remove it (the address on the route to each speaker)" }
            } else {
                details.append("clip URLs name \(advertised) (media.advertise), not an address of this machine: right behind a port mapping (a container's bridge network) if the speakers can reach it")
            }
        } else {
            details.append("clip URLs name the address on the route to each speaker (media.advertise unset)")
        }
        return DoctorCheck(name, verdict, summary, details: details, fix: fix)
    }
}
