import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 interface of this machine, as the plugins' UDP service binds to it.
struct IPv4Interface: Sendable, Equatable {
    let name: String
    /// Dotted quad, e.g. "10.0.0.2".
    let address: String
    let isUp: Bool
    let isLoopback: Bool
    let supportsMulticast: Bool

    /// The address as the kernel takes it (IP_MULTICAST_IF).
    var inAddress: in_addr {
        var a = in_addr()
        _ = inet_pton(AF_INET, address, &a)
        return a
    }
}

/// Finds interfaces by name or address in the kernel's table (getifaddrs).
enum NetworkInterfaces {
    struct Problem: Error, CustomStringConvertible {
        let description: String
    }

    /// Every IPv4 address of every interface, and the names of all interfaces (with or without one).
    static func list() -> (ipv4: [IPv4Interface], names: Set<String>) {
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0, let first = head else { return ([], []) }
        defer { freeifaddrs(head) }
        var result: [IPv4Interface] = []
        var names: Set<String> = []
        for entry in sequence(first: first, next: { $0.pointee.ifa_next }) {
            guard let rawName = entry.pointee.ifa_name else { continue }
            let name = String(cString: rawName)
            names.insert(name)
            guard let addr = entry.pointee.ifa_addr, addr.pointee.sa_family == sa_family_t(AF_INET) else { continue }
            let flags = Int32(bitPattern: entry.pointee.ifa_flags)
            var sin = sockaddr_in()
            withUnsafeMutableBytes(of: &sin) { $0.copyMemory(from: UnsafeRawBufferPointer(start: addr, count: MemoryLayout<sockaddr_in>.size)) }
            var buffer = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN) + 1)
            guard inet_ntop(AF_INET, &sin.sin_addr, &buffer, socklen_t(buffer.count)) != nil else { continue }
            let address = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            result.append(IPv4Interface(name: name, address: address, isUp: flags & Int32(IFF_UP) != 0,
                                        isLoopback: flags & Int32(IFF_LOOPBACK) != 0,
                                        supportsMulticast: flags & Int32(IFF_MULTICAST) != 0))
        }
        return (result, names)
    }

    static func isIPv4(_ text: String) -> Bool {
        var a = in_addr()
        return inet_pton(AF_INET, text, &a) == 1
    }

    /// `spec` is an interface name ("eth0"), one of its IPv4 addresses ("10.0.0.2"), or "" for
    /// `defaultInterface` (the `network.interface` setting), which in turn may be "" for the first
    /// up, non-loopback, multicast-capable IPv4 interface.
    static func resolve(_ spec: String, defaultInterface: String) throws(Problem) -> IPv4Interface {
        let (all, names) = list()
        let wanted = spec.trimmingCharacters(in: .whitespaces)
        if wanted.isEmpty {
            let configured = defaultInterface.trimmingCharacters(in: .whitespaces)
            if !configured.isEmpty {
                do throws(Problem) { return try resolve(configured, in: all, names: names) } catch {
                    throw Problem(description: "network.interface: \(error.description)")
                }
            }
            guard let first = all.first(where: { $0.isUp && !$0.isLoopback && $0.supportsMulticast }) else {
                throw Problem(description: "no up, non-loopback, multicast-capable IPv4 interface; set network.interface")
            }
            return first
        }
        return try resolve(wanted, in: all, names: names)
    }

    private static func resolve(_ spec: String, in all: [IPv4Interface], names: Set<String>) throws(Problem) -> IPv4Interface {
        if isIPv4(spec) {
            guard let match = all.first(where: { $0.address == spec }) else {
                throw Problem(description: "no interface has the address \(spec)")
            }
            guard match.isUp else { throw Problem(description: "interface \(match.name) (\(spec)) is down") }
            return match
        }
        let matches = all.filter { $0.name == spec }
        guard let match = matches.first(where: \.isUp) ?? matches.first else {
            throw Problem(description: names.contains(spec) ? "interface \(spec) has no IPv4 address" : "no interface named \(spec)")
        }
        guard match.isUp else { throw Problem(description: "interface \(spec) is down") }
        return match
    }
}
