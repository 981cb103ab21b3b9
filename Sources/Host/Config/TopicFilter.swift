/// MQTT topic filter syntax (`+` one level, `#` the rest), checked where the configuration is read
/// (`mqtt.response_topics`) and matched where a requester's response topic is judged.
enum TopicFilter {
    /// Why `filter` is not a valid MQTT topic filter the bridge would answer into, or nil.
    static func problem(_ filter: String) -> String? {
        if filter.isEmpty { return "is empty" }
        let parts = filter.split(separator: "/", omittingEmptySubsequences: false)
        for (i, part) in parts.enumerated() {
            if part.contains("#"), part != "#" || i != parts.count - 1 {
                return "is not a topic filter: '#' must be a whole last level"
            }
            if part.contains("+"), part != "+" { return "is not a topic filter: '+' must be a whole level" }
        }
        if filter.hasPrefix("$") { return "starts with '$': broker topics are never answered into" }
        return nil
    }

    /// Whether a topic, split into its levels, matches a filter split the same way.
    static func matches(_ levels: [Substring], filter: [Substring]) -> Bool {
        var i = 0
        for part in filter {
            if part == "#" { return true }
            guard i < levels.count else { return false }
            if part != "+", part != levels[i] { return false }
            i += 1
        }
        return i == levels.count
    }
}
