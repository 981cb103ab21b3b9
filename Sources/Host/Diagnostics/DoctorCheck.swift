import Foundation

/// One line of `speakerbridge doctor`: what was looked at, the verdict, why, and the one thing to do.
public struct DoctorCheck: Sendable, Equatable {
    public enum Verdict: String, Sendable, Equatable {
        case ok, warn, fail
    }

    public let name: String
    public let verdict: Verdict
    /// One line: what was found.
    public let summary: String
    /// What it means, one sentence a line.
    public let details: [String]
    /// The one line a user can act on; nil when there is nothing to do.
    public let fix: String?

    public init(_ name: String, _ verdict: Verdict, _ summary: String, details: [String] = [], fix: String? = nil) {
        self.name = name
        self.verdict = verdict
        self.summary = summary
        self.details = details
        self.fix = fix
    }

    static func ok(_ name: String, _ summary: String, details: [String] = []) -> DoctorCheck {
        DoctorCheck(name, .ok, summary, details: details)
    }

    static func warn(_ name: String, _ summary: String, details: [String] = [], fix: String?) -> DoctorCheck {
        DoctorCheck(name, .warn, summary, details: details, fix: fix)
    }

    static func fail(_ name: String, _ summary: String, details: [String] = [], fix: String) -> DoctorCheck {
        DoctorCheck(name, .fail, summary, details: details, fix: fix)
    }

    var json: JSONValue {
        ["name": .string(name), "verdict": .string(verdict.rawValue), "summary": .string(summary),
         "details": .array(details.map { .string($0) }), "fix": .optional(fix)]
    }
}
