/// A typed command a plugin declared, ready to be called.
struct TypedCommand: Sendable {
    let name: String
    let signatureText: String
    let description: String
    let signature: CommandSignature
    let invoker: CommandInvoker
}
