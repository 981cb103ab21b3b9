/// The answer to a command: `data` for the envelope, or a reason.
public enum CommandOutcome: Sendable, Equatable {
    case ok(JSONValue)
    case error(String)
}
