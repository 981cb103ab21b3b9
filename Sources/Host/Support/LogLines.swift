import Foundation
import Logging

/// The daemon's recent log lines, kept in memory for the `log` request (and so the status page):
/// the last `perLevel` lines of each level, so "the last 200 at warning or above" is exact however
/// chatty the lower levels are.
/// SKELETON (#14): helper S2 fills this in.
public final class LogLines: Sendable {
    public struct Line: Sendable, Equatable {
        public let at: Date
        public let level: Logger.Level
        public let label: String
        public let message: String
        public init(at: Date, level: Logger.Level, label: String, message: String) {
            self.at = at
            self.level = level
            self.label = label
            self.message = message
        }
    }

    public let perLevel: Int

    public init(perLevel: Int = 200) { self.perLevel = perLevel }

    public func append(_ line: Line) {}

    /// The newest `limit` lines at `level` or above, oldest first.
    public func last(_ limit: Int, atLeast level: Logger.Level) -> [Line] { [] }
}
