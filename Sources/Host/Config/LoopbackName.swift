import Foundation

/// Whether a host name or address (of `admin.bind`, or of an HTTP Host header) names this machine's
/// loopback interface: `localhost`, an IPv4 address in 127.0.0.0/8, or `::1` (bare or in brackets,
/// as a URL writes it). Parsed exactly, so `127.0.0.1.example.com` or `localhost.evil` are not.
/// `0.0.0.0` and `::` are not loopback: they listen on every interface.
public enum LoopbackName {
    public static func contains(_ name: String) -> Bool {
        var host = Substring(name)
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        if host.lowercased() == "localhost" { return true }
        var v4 = in_addr()
        if !host.contains(":"), inet_pton(AF_INET, String(host), &v4) == 1 {
            // s_addr is in network byte order: its first byte in memory is the first octet.
            return withUnsafeBytes(of: &v4) { $0[0] } == 127
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, String(host), &v6) == 1 else { return false }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        return bytes.dropLast().allSatisfy { $0 == 0 } && bytes.last == 1
    }

    /// The host part of a Host header (`127.0.0.1:8180`, `[::1]:8180`, `localhost`) is loopback.
    public static func containsHost(ofHeader header: String) -> Bool {
        let value = header.trimmingCharacters(in: .whitespaces)
        if value.hasPrefix("[") {
            guard let close = value.firstIndex(of: "]") else { return false }
            let rest = value[value.index(after: close)...]
            guard rest.isEmpty || (rest.hasPrefix(":") && rest.dropFirst().allSatisfy(\.isASCIIDigit)) else { return false }
            return contains(String(value[...close]))
        }
        let parts = value.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        if parts.count == 2, !parts[1].allSatisfy(\.isASCIIDigit) { return false }
        return !parts[0].isEmpty && contains(String(parts[0]))
    }
}

private extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
