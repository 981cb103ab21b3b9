import Foundation
import Logging
import Synchronization

/// The daemon's recent log lines, kept in memory for the `log` request (and so the status page):
/// the last `perLevel` lines of each level, so "the last 200 at warning or above" is exact however
/// chatty the lower levels are.
///
/// One ring per level: an append overwrites that level's oldest line, O(1) under a short lock, so a
/// log call never waits for a reader longer than a copy of at most `perLevel` × 7 lines.
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

    /// Characters of a message kept; a longer one (a plugin's stderr dump, a huge payload quoted in
    /// an error) is cut and ends with "…", so the memory is bounded by lines, not by what was logged.
    public static let maxMessageCharacters = 2_000

    /// A line with its place in the order of all appends: rings of different levels are merged by it
    /// (two lines in the same millisecond still come out in the order they were logged).
    private struct Entry {
        let seq: UInt64
        let line: Line
    }

    private struct Ring {
        var entries: [Entry] = []
        /// Where the next append goes once the ring is full (its oldest entry).
        var next = 0

        mutating func append(_ entry: Entry, capacity: Int) {
            if entries.count < capacity {
                entries.append(entry)
            } else {
                entries[next] = entry
                next = (next + 1) % capacity
            }
        }

        /// The entry `back` places before the newest (0: the newest).
        func newest(_ back: Int) -> Entry? {
            guard back < entries.count else { return nil }
            let newestIndex = (next + entries.count - 1) % entries.count
            return entries[(newestIndex - back + entries.count) % entries.count]
        }
    }

    private struct State {
        var rings = [Ring](repeating: Ring(), count: Logger.Level.allCases.count)
        var seq: UInt64 = 0
    }

    public let perLevel: Int
    private let state = Mutex(State())

    public init(perLevel: Int = 200) { self.perLevel = max(1, perLevel) }

    public func append(_ line: Line) {
        let kept = line.message.count > Self.maxMessageCharacters
            ? Line(at: line.at, level: line.level, label: line.label,
                   message: String(line.message.prefix(Self.maxMessageCharacters - 1)) + "…")
            : line
        let ring = Self.index(of: kept.level)
        state.withLock { s in
            s.seq += 1
            s.rings[ring].append(Entry(seq: s.seq, line: kept), capacity: perLevel)
        }
    }

    /// The newest `limit` lines at `level` or above, oldest first.
    public func last(_ limit: Int, atLeast level: Logger.Level) -> [Line] {
        guard limit > 0 else { return [] }
        let levels = Self.index(of: level)..<Logger.Level.allCases.count
        return state.withLock { s in
            // A merge from the newest end: each step takes the newest line no ring has given yet.
            var taken = [Int](repeating: 0, count: s.rings.count)
            var newestFirst: [Line] = []
            newestFirst.reserveCapacity(min(limit, perLevel * levels.count))
            while newestFirst.count < limit {
                var pick: (ring: Int, entry: Entry)?
                for r in levels {
                    guard let candidate = s.rings[r].newest(taken[r]) else { continue }
                    if pick.map({ candidate.seq > $0.entry.seq }) ?? true { pick = (r, candidate) }
                }
                guard let pick else { break }
                taken[pick.ring] += 1
                newestFirst.append(pick.entry.line)
            }
            return newestFirst.reversed()
        }
    }

    private static func index(of level: Logger.Level) -> Int {
        Logger.Level.allCases.firstIndex(of: level) ?? 0
    }
}
