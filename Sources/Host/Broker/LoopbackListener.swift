import Foundation

/// Who listens on a TCP port of 127.0.0.1, from the kernel's socket tables in /proc.
///
/// The session must only ever send its CONNECT (with the broker password) to the mosquitto the
/// daemon started: between a broker crash and its restart, any local program could take the port.
/// Connection attempts to 127.0.0.1:<port> go to the socket listening on exactly that address, and
/// two programs cannot both listen there (SO_REUSEPORT sharing needs the same user and the flag
/// on both, which mosquitto never sets), so "that socket is one of our child's file descriptors"
/// is a sound test.
enum LoopbackListener {
    /// True when `pid` holds the socket listening on 127.0.0.1:`port`.
    static func isOwned(port: Int, by pid: pid_t) -> Bool {
        let inodes = listeningInodes(port: port, loopbackOnly: true)
        guard !inodes.isEmpty else { return false }
        return !socketInodes(of: pid).isDisjoint(with: inodes)
    }

    /// A readable description of whoever listens on `port` for 127.0.0.1 ("pid 812 (nc)" when
    /// /proc lets us see it), or nil when nobody does.
    static func describeHolder(port: Int) -> String? {
        let inodes = listeningInodes(port: port, loopbackOnly: false)
        guard !inodes.isEmpty else { return nil }
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap { pid_t($0) } ?? []
        for pid in pids where !socketInodes(of: pid).isDisjoint(with: inodes) {
            let name = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            return "pid \(pid) (\(name))"
        }
        return "a program of another user"
    }

    /// Inodes of sockets in state LISTEN on `port` at 127.0.0.1 (and, unless `loopbackOnly`, at
    /// 0.0.0.0 and :: too, which also take connections to 127.0.0.1).
    private static func listeningInodes(port: Int, loopbackOnly: Bool) -> Set<UInt64> {
        let portHex = String(format: "%04X", port)
        // The kernel prints the address as the in-memory (network order) 32-bit word, in hex.
        let loopback = String(format: "%08X", inet_addr("127.0.0.1")) + ":" + portHex
        var addresses: Set<String> = [loopback]
        if !loopbackOnly {
            addresses.insert("00000000:" + portHex)
            addresses.insert(String(repeating: "0", count: 32) + ":" + portHex)
            // ::ffff:127.0.0.1 as the kernel prints it (four 32-bit words in host order).
            addresses.insert("0000000000000000FFFF0000" + String(format: "%08X", inet_addr("127.0.0.1")) + ":" + portHex)
        }
        var inodes = Set<UInt64>()
        for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
            guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ", omittingEmptySubsequences: true)
                // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
                guard fields.count > 9, fields[3] == "0A", addresses.contains(String(fields[1])),
                      let inode = UInt64(fields[9]), inode != 0 else { continue }
                inodes.insert(inode)
            }
        }
        return inodes
    }

    private static func socketInodes(of pid: pid_t) -> Set<UInt64> {
        let folder = "/proc/\(pid)/fd"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return [] }
        var inodes = Set<UInt64>()
        for entry in entries {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: folder + "/" + entry),
                  target.hasPrefix("socket:["), target.hasSuffix("]"),
                  let inode = UInt64(target.dropFirst(8).dropLast()) else { continue }
            inodes.insert(inode)
        }
        return inodes
    }
}
