/// What the announcer says about a request it was handed.
public struct AnnouncementAcceptance: Sendable, Equatable {
    /// To publish now: `queued`, or a final `failed`.
    public var events: [AnnouncementEvent]
    /// False while the announcement is still going on: the request then stays unfinished in the
    /// journal (and is announced again after a restart) until the announcer completes it.
    public var finished: Bool

    public static func final(_ events: [AnnouncementEvent]) -> AnnouncementAcceptance { .init(events: events, finished: true) }
    public static func pending(_ events: [AnnouncementEvent]) -> AnnouncementAcceptance { .init(events: events, finished: false) }
}
