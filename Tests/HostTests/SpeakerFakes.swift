import Foundation
import Synchronization

@testable import SpeakerbridgeHost

/// Speaker drivers held in memory: what each reports can change between refreshes.
final class InMemoryDrivers: SpeakerDrivers {
    private let state: Mutex<(speakers: [String: [SpeakerInfo]], reports: Int)>

    init(_ speakers: [String: [SpeakerInfo]] = [:]) { state = Mutex((speakers, 0)) }

    func set(_ driver: String, _ speakers: [SpeakerInfo]) { state.withLock { $0.speakers[driver] = speakers } }
    var reports: Int { state.withLock { $0.reports } }

    func reportSpeakers() async -> [String: [SpeakerInfo]] {
        state.withLock { $0.reports += 1; return $0.speakers }
    }
}

func speaker(_ id: String, _ name: String, group: String? = nil) -> SpeakerInfo {
    SpeakerInfo(id: id, name: name, model: "test", group: group, address: nil)
}

/// The plugins as announcements see them, in memory: speech is a URL naming the text, and a play
/// either ends at once or, when `holding`, when released or cancelled.
final class RecordingBackend: AnnouncementBackend {
    struct Play: Sendable, Equatable {
        let speaker: String
        let url: String
    }

    private struct State {
        var plays: [Play] = []
        var cancelled: [UInt64] = []
        var waiting: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextOperation: UInt64 = 0
        var holding = false
    }

    private let state = Mutex(State())
    private let synthesis: @Sendable (TTSRequest) -> CommandOutcome
    private let result: @Sendable (SpeakerClip, SpeakerHandle) -> CommandOutcome

    init(synthesis: @escaping @Sendable (TTSRequest) -> CommandOutcome = { .ok(["url": .string("http://clips.invalid/\($0.text).wav"), "duration_ms": 10]) },
         result: @escaping @Sendable (SpeakerClip, SpeakerHandle) -> CommandOutcome = { _, _ in .ok(.null) }) {
        self.synthesis = synthesis
        self.result = result
    }

    var plays: [Play] { state.withLock { $0.plays } }
    var cancelled: [UInt64] { state.withLock { $0.cancelled } }

    /// Plays from now on last until `release` (or a cancel).
    func hold() { state.withLock { $0.holding = true } }

    func release() {
        let waiting = state.withLock { s in
            s.holding = false
            defer { s.waiting.removeAll() }
            return Array(s.waiting.values)
        }
        for w in waiting { w.resume() }
    }

    func synthesize(_ request: TTSRequest) async -> CommandOutcome { synthesis(request) }

    func play(_ clip: SpeakerClip, on speaker: SpeakerHandle, onStarted: @escaping @Sendable (UInt64) -> Void) async -> CommandOutcome {
        let (operation, holding) = state.withLock { s in
            s.nextOperation += 1
            s.plays.append(Play(speaker: speaker.speaker.id, url: clip.url))
            return (s.nextOperation, s.holding)
        }
        onStarted(operation)
        if holding {
            await withCheckedContinuation { c in
                // Released or cancelled before this play got here: do not wait.
                let now = state.withLock { s -> Bool in
                    guard s.holding, !s.cancelled.contains(operation) else { return true }
                    s.waiting[operation] = c
                    return false
                }
                if now { c.resume() }
            }
        }
        return result(clip, speaker)
    }

    func cancel(operation: UInt64, on speaker: SpeakerHandle) async {
        let waiting = state.withLock { s in
            s.cancelled.append(operation)
            return s.waiting.removeValue(forKey: operation)
        }
        waiting?.resume()
    }
}

/// Polls `condition` until it holds or `seconds` pass.
func eventually(_ seconds: Double = 5, _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return await condition()
}
