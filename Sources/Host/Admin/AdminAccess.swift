/// Who may use the status page and its API: the admin token (`admin.token_file`), compared in
/// constant time, from a cookie or an `Authorization: Bearer` header; Host and Origin rules
/// against DNS rebinding and cross-site requests.
/// SKELETON (#14): helper S1 fills this in.
public struct AdminAccess: Sendable {
    /// nil: no token configured (allowed only on a loopback bind).
    public init(token: Secret?) {}
}
