/// The sign-in form's body (`application/x-www-form-urlencoded`, as a browser posts it): the value
/// of its `token` field, decoded.
enum LoginForm {
    /// Larger bodies are refused before they are read: the form holds one token.
    static let maxBodyBytes = 4 << 10

    static func token(in body: [UInt8]) -> [UInt8]? {
        for field in body.split(separator: UInt8(ascii: "&")) {
            let parts = field.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, AdminCredentials.percentDecoded(Array(parts[0]), plusIsSpace: true) == Array("token".utf8) else { continue }
            return AdminCredentials.percentDecoded(Array(parts[1]), plusIsSpace: true)
        }
        return nil
    }
}
