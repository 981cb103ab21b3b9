/// Errors thrown by LabKit helpers. One type so tests can print them uniformly.
public struct LabError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
