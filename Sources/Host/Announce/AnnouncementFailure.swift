/// Why an announcement could not play: the reason its final event carries.
struct AnnouncementFailure: Error, Sendable {
    let reason: String
}
