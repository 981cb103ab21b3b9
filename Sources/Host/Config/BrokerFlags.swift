/// What the command line's `--broker` (repeatable) sets, as `--set` flags.
///
/// Once, it keeps its old meaning: `mqtt.host` and, when the value names one, `mqtt.port`.
/// Repeated, or with a scheme (only a list entry carries its own TLS choice), it is `mqtt.brokers`.
/// Either way it also puts the other form back to its default (an empty flag does that), so a
/// command line can point at another broker than the file or environment without tripping the
/// "set one of mqtt.host and mqtt.brokers" check.
public enum BrokerFlags {
    public static func flags(_ values: [String]) -> [String: String] {
        guard !values.isEmpty else { return [:] }
        guard values.count == 1, let one = values.first, !one.contains("://") else {
            return ["mqtt.brokers": values.joined(separator: ","), "mqtt.host": "", "mqtt.port": ""]
        }
        var flags = ["mqtt.brokers": ""]
        if case .success(let address) = BrokerAddress.parse(one) {
            flags["mqtt.host"] = address.host
            let namesPort = one.hasPrefix("[") ? one.contains("]:") : one.filter { $0 == ":" }.count == 1
            if namesPort { flags["mqtt.port"] = String(address.port) }
        } else if let colon = one.lastIndex(of: ":"), let port = Int(one[one.index(after: colon)...]) {
            // An out-of-range port: mqtt.port's own check names it, as before lists existed.
            flags["mqtt.host"] = String(one[..<colon])
            flags["mqtt.port"] = String(port)
        } else {
            flags["mqtt.host"] = one
        }
        return flags
    }
}
