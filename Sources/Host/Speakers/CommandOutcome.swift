/// A driver's (or any plugin's) answer to a call: a command, a clip played, speech synthesised.
/// `data` goes into the envelope; a reason is what the MQTT answer or event says. It sits with the
/// speakers because both the plugin layer and the speaker users above it speak it.
public enum CommandOutcome: Sendable, Equatable {
    case ok(JSONValue)
    case error(String)
}
