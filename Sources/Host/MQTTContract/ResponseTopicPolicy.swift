/// Decides whether a requester's MQTT 5 response topic may be published to.
///
/// The response topic is chosen by whoever sends the request, so without a rule anyone allowed to
/// publish a request could make the daemon publish into `$SYS/…`, onto a wildcard, onto another
/// application's topics, or back onto one of our own request topics (an answer that is itself a
/// request loops forever).
///
/// A topic is used only when it is a plain topic name (no `+`/`#`, no leading `$`, no NUL, at most
/// 65,535 bytes), is not one the bridge itself takes requests on, and matches the configured
/// filters (`mqtt.response_topics`). Without configured filters it must be under the base topic or
/// have a level that begins with `response` (`nodered/response`, `app/responses/42`).
public struct ResponseTopicPolicy: Sendable {
    private let topics: Topics
    private let filters: [[Substring]]

    public init(topics: Topics, filters: [String]) {
        self.topics = topics
        self.filters = filters.map { $0.replacingOccurrences(of: "{base}", with: topics.base).split(separator: "/", omittingEmptySubsequences: false) }
    }

    /// nil when `topic` may be used, else why not (for the answer's warning field and the log).
    public func problem(with topic: String) -> String? {
        if topic.isEmpty { return "is empty" }
        if topic.utf8.count > 65_535 { return "is longer than 65535 bytes" }
        if topic.contains("+") || topic.contains("#") { return "contains a wildcard" }
        if topic.hasPrefix("$") { return "starts with '$' (broker topics are not answered into)" }
        if topic.utf8.contains(0) { return "contains a NUL character" }
        if topics.route(topic) != .unknown { return "is one of the bridge's own request topics" }
        if filters.isEmpty {
            if topic.hasPrefix(topics.base + "/") { return nil }
            if topic.split(separator: "/").contains(where: { $0.hasPrefix("response") }) { return nil }
            return "is neither under '\(topics.base)/' nor has a level beginning with 'response' (set mqtt.response_topics to allow it)"
        }
        let levels = topic.split(separator: "/", omittingEmptySubsequences: false)
        if filters.contains(where: { TopicFilter.matches(levels, filter: $0) }) { return nil }
        return "matches none of mqtt.response_topics"
    }
}
