import Synchronization

/// The speakers the drivers report, and the one place a speaker name (an id, a name in any case, a
/// group, or "all") becomes the speakers to play on.
///
/// The list changes only through `refresh`, which asks every driver. It runs when something says
/// the list may have changed: a driver reports a speaker's availability, the set of plugins
/// changes, or a lookup meets a name it does not know or "all" (a driver may have found a speaker
/// a moment ago, and "all" means every speaker now).
public final class SpeakerDirectory: Sendable {
    private enum Follow { case idle, running, again }

    private struct State {
        /// Per driver id, in the order the driver reports them.
        var byDriver: [String: [SpeakerInfo]] = [:]
        /// Refreshes overlap; only the newest one that finished may write the list.
        var started: UInt64 = 0
        var written: UInt64 = 0
        var follow = Follow.idle
    }

    private let drivers: any SpeakerDrivers
    private let changed: @Sendable () -> Void
    private let state = Mutex(State())

    /// `changed` runs after a refresh that changed the list (bridge/info names the speakers).
    public init(drivers: any SpeakerDrivers, changed: @escaping @Sendable () -> Void = {}) {
        self.drivers = drivers
        self.changed = changed
    }

    /// Every speaker, drivers ordered by id.
    public var handles: [SpeakerHandle] {
        state.withLock { s in
            s.byDriver.sorted { $0.key < $1.key }.flatMap { driver, speakers in
                speakers.map { SpeakerHandle(speaker: $0, driver: driver) }
            }
        }
    }

    public var speakers: [SpeakerInfo] { handles.map(\.speaker) }

    public func speakers(of driver: String) -> [SpeakerInfo] { state.withLock { $0.byDriver[driver] ?? [] } }

    /// Asks every driver for its speakers now.
    public func refresh() async {
        let ticket = state.withLock { $0.started += 1; return $0.started }
        let report = await drivers.reportSpeakers()
        let didChange = state.withLock { s -> Bool in
            guard ticket > s.written else { return false }
            s.written = ticket
            guard s.byDriver != report else { return false }
            s.byDriver = report
            return true
        }
        if didChange { changed() }
    }

    /// A driver said a speaker came or went: refresh soon, without making the caller (a plugin's
    /// executor) wait. Events that arrive during a refresh fold into one more refresh.
    public func driversChanged() {
        let start = state.withLock { s -> Bool in
            guard s.follow == .idle else { s.follow = .again; return false }
            s.follow = .running
            return true
        }
        guard start else { return }
        Task { await self.follow() }
    }

    private func follow() async {
        repeat { await refresh() } while state.withLock({ s -> Bool in
            if s.follow == .again { s.follow = .running; return true }
            s.follow = .idle
            return false
        })
    }

    /// The speakers `names` mean together (in the order asked, each once).
    public func resolve(_ names: [String]) async throws(SpeakerLookupError) -> [SpeakerHandle] {
        var known = handles
        if known.isEmpty || names.contains(where: { $0.lowercased() == "all" || Self.match($0, in: known).isEmpty }) {
            await refresh()
            known = handles
        }
        guard !known.isEmpty else { throw .noSpeakers }
        var targets: [SpeakerHandle] = []
        var unknown: [String] = []
        for name in names {
            let matches = Self.match(name, in: known)
            if matches.isEmpty { unknown.append(name) }
            for m in matches where !targets.contains(m) { targets.append(m) }
        }
        guard unknown.isEmpty else { throw .unknown(names: unknown, known: known.map(\.speaker.name)) }
        return targets
    }

    /// The one speaker `name` means, for a request that acts on a single speaker (`play`,
    /// `<speaker>/set`). An unknown name is answered without the list of known speakers.
    public func resolve(one name: String) async throws(SpeakerLookupError) -> SpeakerHandle {
        let matches: [SpeakerHandle]
        do { matches = try await resolve([name]) } catch { throw .unknown(names: [name], known: []) }
        guard matches.count == 1 else { throw .ambiguous(name: name, matches: matches) }
        return matches[0]
    }

    /// A speaker by id, by name (any case), by group (any case), or every speaker for "all".
    static func match(_ name: String, in speakers: [SpeakerHandle]) -> [SpeakerHandle] {
        let lower = name.lowercased()
        if lower == "all" { return speakers }
        if let exact = speakers.first(where: { $0.speaker.id == name }) { return [exact] }
        let byName = speakers.filter { $0.speaker.name.lowercased() == lower }
        if !byName.isEmpty { return byName }
        return speakers.filter { $0.speaker.group?.lowercased() == lower }
    }
}
