import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The network namespace a test's browser runs in, so that Chromium (which calls Google's servers
/// when it starts) never reaches the machine's real interfaces: one veth pair joins it to our
/// namespace, our side `10.232.X.1/30`, its side `10.232.X.2/30`, its `lo` up, and NO default
/// route in it, so the only addresses it can reach are the two of that /30. The daemon under test
/// listens on `hostAddress`; the browser's driver listens on `browserAddress`.
/// Removed (with every process still inside) by `destroy`, which deinit calls too.
public final class BrowserNamespace: Sendable {
    /// The namespace's name, for `ip netns exec`.
    public let name: String
    /// Our end of the pair (the root namespace): what the browser can reach, e.g. 10.232.17.1.
    public let hostAddress: String
    /// The namespace's end: where the browser's driver listens, e.g. 10.232.17.2.
    public let browserAddress: String
    private let hostInterface: String
    private static let browserInterface = "web0"
    private let alive = Mutex(false)

    /// nil when a namespace can be made here; otherwise why not (tests skip with it).
    public static var unavailableReason: String? { NetnsLab.unavailableReason }

    public init() throws {
        if let reason = BrowserNamespace.unavailableReason { throw LabError("network namespaces unavailable: \(reason)") }
        // Unique per process and per instance (pid + random), so parallel runs and leftovers never clash.
        let tag = String(format: "%04x", UInt16.random(in: 0...UInt16.max))
        name = "sbweb\(getpid())-\(tag)"
        // Interface names have at most 15 characters.
        hostInterface = "sbweb\(tag)"
        let subnet = try BrowserNamespace.freeSubnet()
        hostAddress = "\(subnet).1"
        browserAddress = "\(subnet).2"
        do {
            try build()
        } catch {
            destroy()
            throw error
        }
    }

    deinit { destroy() }

    /// A 10.232.X.0/30 that no interface here uses yet (X random, so parallel runs rarely collide).
    private static func freeSubnet() throws -> String {
        let used = (try? Shell.run(["ip", "-4", "-o", "addr", "show"]).out) ?? ""
        for _ in 0..<50 {
            let candidate = "10.232.\(Int.random(in: 1...250))"
            if !used.contains(" \(candidate).") { return candidate }
        }
        throw LabError("no free 10.232.X.0/30 for the browser's namespace")
    }

    private func build() throws {
        try Shell.runChecked(["ip", "netns", "add", name])
        alive.withLock { $0 = true }
        try Shell.runChecked(["ip", "-n", name, "link", "set", "lo", "up"])
        let inside = BrowserNamespace.browserInterface
        try Shell.runChecked(["ip", "link", "add", hostInterface, "type", "veth", "peer", "name", inside, "netns", name])
        // IPv4 only: without IPv6 on the pair there is not even a link-local path to think about.
        _ = try? Shell.run(["sysctl", "-q", "-w", "net.ipv6.conf.\(hostInterface).disable_ipv6=1"])
        _ = try? Shell.run(["ip", "netns", "exec", name, "sysctl", "-q", "-w", "net.ipv6.conf.\(inside).disable_ipv6=1"])
        try Shell.runChecked(["ip", "addr", "add", "\(hostAddress)/30", "dev", hostInterface])
        try Shell.runChecked(["ip", "link", "set", hostInterface, "up"])
        try Shell.runChecked(["ip", "-n", name, "addr", "add", "\(browserAddress)/30", "dev", inside])
        try Shell.runChecked(["ip", "-n", name, "link", "set", inside, "up"])
        // The rule this namespace exists for: nothing but the /30 (and lo) is routable inside.
        let routes = try Shell.runChecked(["ip", "-n", name, "-4", "route", "show"])
        guard !routes.contains("default") else { throw LabError("the browser's namespace has a default route: \(routes)") }
    }

    /// The argument prefix that runs a command inside the namespace.
    public func command(_ args: [String]) -> [String] { ["/usr/sbin/ip", "netns", "exec", name] + args }

    /// Pids of the processes inside the namespace right now (empty once it is gone).
    public func pids() -> [Int32] {
        guard alive.withLock({ $0 }), let out = try? Shell.run(["ip", "netns", "pids", name]).out else { return [] }
        return out.split(whereSeparator: \.isWhitespace).compactMap { Int32($0) }
    }

    /// Kills whatever still runs inside (the driver, the browser and its helpers), then removes the
    /// namespace and with it both ends of the pair. Idempotent.
    public func destroy() {
        let wasAlive = alive.withLock { alive in defer { alive = false }; return alive }
        guard wasAlive else { return }
        // A namespace lives on as long as any process is in it; a browser's helpers may be slow to die.
        for _ in 0..<50 {
            let left = (try? Shell.run(["ip", "netns", "pids", name]).out)?
                .split(whereSeparator: \.isWhitespace).compactMap { Int32($0) } ?? []
            if left.isEmpty { break }
            for pid in left { kill(pid, SIGKILL) }
            Thread.sleep(forTimeInterval: 0.1)
        }
        _ = try? Shell.run(["ip", "netns", "del", name])
        _ = try? Shell.run(["ip", "link", "del", hostInterface])
    }
}
