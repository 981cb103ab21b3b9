/// A typed command a plugin declared, its signature checked; the host binds arguments with it
/// before the plugin is called (in this process or in a plugin host process).
struct TypedCommand: Sendable {
    let name: String
    let signatureText: String
    let description: String
    let signature: CommandSignature
}
