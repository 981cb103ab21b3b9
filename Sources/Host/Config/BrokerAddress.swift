/// One entry of `mqtt.brokers`: where a broker listens and whether to speak TLS to it.
///
/// Written `host`, `host:port`, `[v6]:port`, `mqtt://host[:port]` or `mqtts://host[:port]`; the
/// scheme is the per-entry TLS choice (`mqtts` defaults to port 8883), without one the entry
/// follows `mqtt.tls.enabled` and the port defaults to 1883.
public struct BrokerAddress: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// nil: as `mqtt.tls.enabled` says.
    public var tls: Bool?

    public init(host: String, port: Int, tls: Bool? = nil) {
        self.host = host
        self.port = port
        self.tls = tls
    }

    /// `host:port` (IPv6 in brackets), with the scheme when the entry chose one.
    public var description: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        let scheme = tls.map { $0 ? "mqtts://" : "mqtt://" } ?? ""
        return "\(scheme)\(hostPart):\(port)"
    }

    /// Whether this broker is spoken to over TLS.
    public func usesTLS(_ mqtt: Configuration.MQTT) -> Bool { tls ?? mqtt.tls.enabled }

    /// Parses one entry; the error says what is wrong with it.
    public static func parse(_ text: String) -> Result<BrokerAddress, BrokerAddressError> {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        var tls: Bool? = nil
        if let range = rest.range(of: "://") {
            switch rest[..<range.lowerBound].lowercased() {
            case "mqtt", "tcp": tls = false
            case "mqtts", "ssl", "tls": tls = true
            default: return .failure(.init("\(String(reflecting: text)): the scheme must be mqtt:// or mqtts://"))
            }
            rest = rest[range.upperBound...]
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        var host: Substring
        var portText: Substring? = nil
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else {
                return .failure(.init("\(String(reflecting: text)): an IPv6 address needs its closing ]"))
            }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty {
                return .failure(.init("\(String(reflecting: text)): expected :PORT after the IPv6 address"))
            }
        } else if rest.filter({ $0 == ":" }).count == 1, let colon = rest.firstIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
        }
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "/" || $0 == "\0" || $0 == "," }) else {
            return .failure(.init("\(String(reflecting: text)): expected host, host:port or mqtts://host:port"))
        }
        var port = tls == true ? 8883 : 1883
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                return .failure(.init("\(String(reflecting: text)): the port must be a number from 1 to 65535"))
            }
            port = value
        }
        return .success(BrokerAddress(host: String(host), port: port, tls: tls))
    }

    /// Parses a list separated by commas, spaces or new lines (YAML lists arrive joined by commas).
    public static func parseList(_ text: String) -> Result<[BrokerAddress], BrokerAddressError> {
        var list: [BrokerAddress] = []
        for item in text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" }) {
            switch parse(String(item)) {
            case .success(let address):
                if list.contains(where: { $0.host == address.host && $0.port == address.port }) {
                    return .failure(.init("\(address) is listed twice"))
                }
                list.append(address)
            case .failure(let error): return .failure(error)
            }
        }
        return .success(list)
    }
}

public struct BrokerAddressError: Error, Equatable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
