import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One machine of a lab LAN: a network namespace with one interface and address.
public struct LabHost: Sendable, CustomStringConvertible {
    /// Network namespace name (use with `ip netns exec`, MosquittoBroker(netns:), DaemonProcess(netns:)).
    public let name: String
    /// IPv4 address on the lab LAN, e.g. "10.231.17.1".
    public let address: String
    /// Interface name inside the namespace.
    public let interface: String
    public var description: String { "\(name)(\(address) on \(interface))" }
}

/// A private LAN built from network namespaces, so tests can use multicast (SSDP) and real
/// addresses without sending a single packet on the machine's real interfaces.
/// 2 hosts: one veth pair. More: a "switch" namespace with a Linux bridge and one veth per host.
public final class NetnsLab: Sendable {
    public let hosts: [LabHost]
    /// "10.231.X": hosts are .1, .2, ... /24.
    public let subnet: String
    private let created: Mutex<[String]>
    private static let interface = "lab0"

    /// nil when labs can be built here; otherwise why not (tests should skip with it).
    public static var unavailableReason: String? { probe }
    private static let probe: String? = {
        guard Shell.isRoot else { return "needs root to create network namespaces" }
        let name = "sb\(getpid())-probe"
        guard let add = try? Shell.run(["ip", "netns", "add", name]) else { return "`ip` (iproute2) not found" }
        guard add.status == 0 else { return "`ip netns add` failed: \(add.err.trimmingCharacters(in: .whitespacesAndNewlines))" }
        _ = try? Shell.run(["ip", "netns", "del", name])
        return nil
    }()

    public init(hosts count: Int = 2) throws {
        precondition(count >= 2 && count <= 250, "a lab needs 2...250 hosts")
        if let reason = NetnsLab.unavailableReason { throw LabError("network namespaces unavailable: \(reason)") }
        // Unique per run and per lab: pid + random, so parallel tests and leftovers never clash.
        let prefix = "sb\(getpid())-" + String(format: "%04x", UInt16.random(in: 0...UInt16.max))
        subnet = "10.231.\(Int.random(in: 1...250))"
        let names = (0..<count).map { "\(prefix)-\($0)" }
        let net = subnet
        hosts = names.enumerated().map { LabHost(name: $1, address: "\(net).\($0 + 1)", interface: NetnsLab.interface) }
        created = Mutex([])
        do {
            try build(prefix: prefix)
        } catch {
            destroy()
            throw error
        }
    }

    deinit { destroy() }

    private func addNamespace(_ name: String) throws {
        try Shell.runChecked(["ip", "netns", "add", name])
        created.withLock { $0.append(name) }
        try Shell.runChecked(["ip", "-n", name, "link", "set", "lo", "up"])
    }

    private func build(prefix: String) throws {
        for host in hosts { try addNamespace(host.name) }
        let ifname = NetnsLab.interface
        if hosts.count == 2 {
            // Both ends are created directly inside their namespaces: never visible in ours.
            try Shell.runChecked(["ip", "link", "add", ifname, "netns", hosts[0].name, "type", "veth",
                                  "peer", "name", ifname, "netns", hosts[1].name])
        } else {
            let sw = "\(prefix)-sw"
            try addNamespace(sw)
            try Shell.runChecked(["ip", "-n", sw, "link", "add", "br0", "type", "bridge"])
            // No IGMP snooping: SSDP multicast must reach every port without a querier.
            try Shell.runChecked(["ip", "-n", sw, "link", "set", "br0", "type", "bridge", "mcast_snooping", "0"])
            try Shell.runChecked(["ip", "-n", sw, "link", "set", "br0", "up"])
            for (i, host) in hosts.enumerated() {
                try Shell.runChecked(["ip", "link", "add", ifname, "netns", host.name, "type", "veth",
                                      "peer", "name", "p\(i)", "netns", sw])
                try Shell.runChecked(["ip", "-n", sw, "link", "set", "p\(i)", "master", "br0", "up"])
            }
        }
        for host in hosts {
            try Shell.runChecked(["ip", "-n", host.name, "addr", "add", "\(host.address)/24", "dev", ifname])
            try linkUp(host: host)
        }
    }

    /// Runs a command inside the host's namespace to completion.
    @discardableResult
    public func exec(host: LabHost, _ args: [String], input: String? = nil) throws -> (status: Int32, out: String, err: String) {
        try Shell.run(["ip", "netns", "exec", host.name] + args, input: input)
    }

    /// Unplugs the host's cable: its interface goes down (the kernel also drops its routes).
    public func linkDown(host: LabHost) throws {
        try Shell.runChecked(["ip", "-n", host.name, "link", "set", host.interface, "down"])
    }

    /// Plugs the cable back in and restores the multicast route, which `down` deleted.
    public func linkUp(host: LabHost) throws {
        try Shell.runChecked(["ip", "-n", host.name, "link", "set", host.interface, "up"])
        try Shell.runChecked(["ip", "-n", host.name, "route", "replace", "239.0.0.0/8", "dev", host.interface])
    }

    /// Removes every namespace this lab created (veths and bridge go with them). Processes still
    /// running inside are killed first: a namespace lives on as long as any process is in it.
    /// Idempotent; also called from deinit.
    public func destroy() {
        let names = created.withLock { names in defer { names.removeAll() }; return names }
        for name in names.reversed() {
            if let pids = try? Shell.run(["ip", "netns", "pids", name]).out {
                for pid in pids.split(whereSeparator: \.isWhitespace).compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
            }
            _ = try? Shell.run(["ip", "netns", "del", name])
        }
    }
}
