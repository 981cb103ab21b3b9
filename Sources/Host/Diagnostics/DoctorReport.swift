import Foundation

/// Every check's verdict, printed for people or as JSON; the exit status is 1 when one check failed
/// (a warning does not fail: it names something to look at that may be as intended).
public struct DoctorReport: Sendable, Equatable {
    public let checks: [DoctorCheck]

    public init(checks: [DoctorCheck]) { self.checks = checks }

    public var failed: Bool { checks.contains { $0.verdict == .fail } }
    public var exitStatus: Int32 { failed ? 1 : 0 }

    public var text: String {
        let width = (checks.map(\.name.count).max() ?? 0) + 2
        var lines: [String] = []
        for c in checks {
            let verdict = c.verdict == .fail ? "FAIL" : c.verdict.rawValue
            lines.append(verdict.padding(toLength: 6, withPad: " ", startingAt: 0)
                         + c.name.padding(toLength: width, withPad: " ", startingAt: 0) + c.summary)
            for d in c.details { lines.append("      " + d) }
            if let fix = c.fix { lines.append("      fix: " + fix) }
        }
        let counts = [DoctorCheck.Verdict.ok, .warn, .fail].map { v in checks.filter { $0.verdict == v }.count }
        lines.append("\(counts[0]) ok, \(counts[1]) warn, \(counts[2]) FAIL")
        return lines.joined(separator: "\n")
    }

    public var json: JSONValue {
        ["ok": .bool(!failed), "checks": .array(checks.map(\.json))]
    }
}
