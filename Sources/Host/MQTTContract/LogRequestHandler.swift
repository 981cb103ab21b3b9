import Logging

/// `<base>/bridge/request/log`: the daemon's recent log lines at a chosen level.
///
/// `{"level":"warning","limit":50}` (defaults: info, and as many as are kept: 200) answers with
/// `{"level","lines":[{"at","level","label","message"}]}`, the newest `limit` lines at `level` or
/// above, oldest first. Only lines the configured `log_level` lets through were ever kept.
public struct LogRequestHandler: BridgeRequestHandler {
    public let name = "log"
    public let isSlow = false
    let lines: LogLines

    public init(lines: LogLines) { self.lines = lines }

    public func handle(_ request: BridgeRequest) async throws(BridgeRequestError) -> JSONValue {
        for key in request.fields.keys where !["level", "limit", "transaction"].contains(key) {
            throw BridgeRequestError("unknown field '\(key)'; the log request takes level and limit")
        }
        let level = try Self.level(request.fields["level"])
        let limit = try limit(request.fields["limit"])
        let found = lines.last(limit, atLeast: level)
        return ["level": .string(level.rawValue), "lines": .array(found.map(Self.describe))]
    }

    private static let levelNames = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")

    private static func level(_ value: JSONValue?) throws(BridgeRequestError) -> Logger.Level {
        guard let value, value != .null else { return .info }
        guard let name = value.stringValue, let level = Logger.Level(rawValue: name) else {
            throw BridgeRequestError("unknown level \(value.serialized()); use one of \(levelNames)")
        }
        return level
    }

    private func limit(_ value: JSONValue?) throws(BridgeRequestError) -> Int {
        guard let value, value != .null else { return lines.perLevel }
        guard let n = value.numberValue, n.rounded() == n, n >= 1, n <= Double(lines.perLevel) else {
            throw BridgeRequestError("limit must be a whole number from 1 to \(lines.perLevel), got \(value.serialized())")
        }
        return Int(n)
    }

    private static func describe(_ line: LogLines.Line) -> JSONValue {
        ["at": .preciseTimestamp(line.at), "level": .string(line.level.rawValue), "label": .string(line.label),
         "message": .string(line.message)]
    }
}
