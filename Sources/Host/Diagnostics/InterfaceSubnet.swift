import Foundation

/// An IPv4 network (address and prefix), read from the kernel's table for an interface address that
/// `NetworkInterfaces` chose; the doctor needs the mask to say whether two addresses share a LAN.
struct InterfaceSubnet: Sendable, Equatable, CustomStringConvertible {
    let network: UInt32
    let prefix: Int

    var mask: UInt32 { prefix == 0 ? 0 : ~UInt32(0) << (32 - prefix) }
    var description: String { "\(InterfaceSubnet.dotted(network))/\(prefix)" }

    init(network: UInt32, prefix: Int) {
        self.prefix = prefix
        self.network = network & (prefix == 0 ? 0 : ~UInt32(0) << (32 - prefix))
    }

    func contains(_ address: String) -> Bool {
        guard let a = InterfaceSubnet.parse(address) else { return false }
        return a & mask == network
    }

    /// The subnet of `address` on interface `name`, or nil when it is not (or no longer) there.
    static func of(interface name: String, address: String) -> InterfaceSubnet? {
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0, let first = head else { return nil }
        defer { freeifaddrs(head) }
        for entry in sequence(first: first, next: { $0.pointee.ifa_next }) {
            guard let n = entry.pointee.ifa_name, String(cString: n) == name,
                  let addr = entry.pointee.ifa_addr, addr.pointee.sa_family == sa_family_t(AF_INET),
                  let mask = entry.pointee.ifa_netmask else { continue }
            let a = ipv4(addr), m = ipv4(mask)
            guard dotted(a) == address else { continue }
            return InterfaceSubnet(network: a, prefix: m.nonzeroBitCount)
        }
        return nil
    }

    private static func ipv4(_ sa: UnsafeMutablePointer<sockaddr>) -> UInt32 {
        sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) }
    }

    static func parse(_ text: String) -> UInt32? {
        var a = in_addr()
        guard inet_pton(AF_INET, text, &a) == 1 else { return nil }
        return UInt32(bigEndian: a.s_addr)
    }

    static func dotted(_ a: UInt32) -> String {
        "\(a >> 24).\((a >> 16) & 0xff).\((a >> 8) & 0xff).\(a & 0xff)"
    }
}
