import Foundation
import Synchronization

/// One stored clip. Immutable: a new clip gets a new id, so an id always names the same bytes.
public struct MediaClip: Sendable, Equatable {
    /// 128 random bits, base64url without padding (22 characters): the only thing that makes a clip
    /// URL unguessable, since the media server needs no authentication (speakers cannot send any).
    public let id: String
    /// As given to `put` (e.g. "audio/wav"); sent as Content-Type.
    public let mime: String
    public let bytes: [UInt8]
    /// Monotonic, so a wall-clock jump (NTP at boot) neither expires clips early nor keeps them.
    public let expires: ContinuousClock.Instant
    /// "wav", "mp3" …: the URL ends in it because some renderers decide the codec by extension.
    public let fileExtension: String

    /// The path the media server answers for this clip.
    public var path: String { "/media/\(id).\(fileExtension)" }
}

public enum MediaStoreError: Error, Equatable, CustomStringConvertible {
    case unsupportedMime(String)
    case tooLarge(size: Int, limit: Int)
    case invalidTTL(Double)

    public var description: String {
        switch self {
        case .unsupportedMime(let mime):
            "unsupported media type \"\(mime)\" (supported: \(MediaStore.extensions.keys.sorted().joined(separator: ", ")))"
        case .tooLarge(let size, let limit):
            "a clip of \(size) bytes is larger than the media store (\(limit) bytes)"
        case .invalidTTL(let ttl):
            "a clip's time to live must be a positive number of seconds, not \(ttl)"
        }
    }
}

/// The clips speakers fetch from the media server: in memory, bounded, each with a time to live.
///
/// Memory only, by design: clips are short-lived (an announcement is played within seconds of being
/// stored) and regenerating one is cheaper than managing files that outlive a crash. The bound is
/// on the sum of the clips' sizes; when a new clip does not fit, the oldest are dropped first even
/// if their time to live has not run out — a speaker still fetching one gets a 404, which beats
/// the daemon growing without limit when a plugin stores clips in a loop.
public final class MediaStore: Sendable {
    /// Essence (lowercased, without parameters) → file extension. Speakers play WAV and MP3
    /// (DESIGN.md "Clips"); the others are here for TTS engines that produce them natively.
    static let extensions: [String: String] = [
        "audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav", "audio/vnd.wave": "wav",
        "audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/mpeg3": "mp3", "audio/x-mpeg-3": "mp3",
        "audio/flac": "flac", "audio/x-flac": "flac",
        "audio/ogg": "ogg", "audio/aac": "aac", "audio/mp4": "m4a",
    ]

    /// The file extension for a MIME type, nil when the store does not take that type.
    public static func fileExtension(forMime mime: String) -> String? {
        let essence = mime.split(separator: ";", maxSplits: 1).first.map(String.init) ?? mime
        return extensions[essence.trimmingCharacters(in: .whitespaces).lowercased()]
    }

    private struct State {
        var clips: [String: MediaClip] = [:]
        /// Ids oldest first; `head` skips removed entries without shifting the array each time.
        var order: [String] = []
        var head = 0
        var totalBytes = 0
    }

    public let maxTotalBytes: Int
    private let now: @Sendable () -> ContinuousClock.Instant
    private let state = Mutex(State())

    /// - Parameters:
    ///   - maxTotalBytes: the sum of all clips' sizes the store keeps (64 MiB: minutes of 48 kHz
    ///     stereo WAV, far more than the announcements in flight at once).
    ///   - now: the clock, replaceable so tests can expire clips without sleeping.
    public init(maxTotalBytes: Int = 64 << 20,
                now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) {
        self.maxTotalBytes = maxTotalBytes
        self.now = now
    }

    /// Stores a copy of `bytes` for `ttl` seconds and returns it with its new id.
    @discardableResult
    public func put(_ bytes: [UInt8], mime: String, ttl: Double) throws(MediaStoreError) -> MediaClip {
        guard let ext = Self.fileExtension(forMime: mime) else { throw .unsupportedMime(mime) }
        guard ttl.isFinite, ttl > 0 else { throw .invalidTTL(ttl) }
        guard bytes.count <= maxTotalBytes else { throw .tooLarge(size: bytes.count, limit: maxTotalBytes) }
        // Durations above ~292 years overflow; nobody means that, a day is plenty.
        let lifetime = Duration.milliseconds(Int64(min(ttl, 86_400 * 365) * 1000))
        let clip = MediaClip(id: Self.newID(), mime: mime.trimmingCharacters(in: .whitespaces),
                             bytes: bytes, expires: now() + lifetime, fileExtension: ext)
        let instant = now()
        state.withLock { state in
            Self.removeExpired(&state, at: instant)
            while state.totalBytes + bytes.count > maxTotalBytes, Self.removeOldest(&state) {}
            state.clips[clip.id] = clip
            state.order.append(clip.id)
            state.totalBytes += bytes.count
        }
        return clip
    }

    @discardableResult
    public func put(_ data: Data, mime: String, ttl: Double) throws(MediaStoreError) -> MediaClip {
        try put([UInt8](data), mime: mime, ttl: ttl)
    }

    /// The clip, or nil when the id is unknown, was evicted or has expired.
    public func clip(id: String) -> MediaClip? {
        let instant = now()
        return state.withLock { state in
            guard let clip = state.clips[id] else { return nil }
            if clip.expires <= instant {
                Self.remove(id, from: &state)
                return nil
            }
            return clip
        }
    }

    /// Drops expired clips; `put` does it too, the media server calls it periodically so memory is
    /// given back after a burst of announcements even when nothing new is stored.
    public func sweep() {
        let instant = now()
        state.withLock { Self.removeExpired(&$0, at: instant) }
    }

    public var count: Int { state.withLock { $0.clips.count } }
    public var totalBytes: Int { state.withLock { $0.totalBytes } }

    /// 128 bits from the system's CSPRNG (`SystemRandomNumberGenerator`: getrandom(2) on Linux),
    /// base64url so the id is URL- and file-name-safe without escaping.
    static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in bytes.indices { bytes[i] = generator.next() }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    private static func removeExpired(_ state: inout State, at instant: ContinuousClock.Instant) {
        // Clips have different lifetimes, so expired ones are not necessarily the oldest: scan all.
        // The store holds tens of clips, not thousands.
        let expired = state.clips.values.filter { $0.expires <= instant }.map(\.id)
        for id in expired { remove(id, from: &state) }
    }

    /// Removes the oldest clip still stored; false when there is none.
    private static func removeOldest(_ state: inout State) -> Bool {
        while state.head < state.order.count {
            let id = state.order[state.head]
            state.head += 1
            if state.clips[id] != nil {
                remove(id, from: &state)
                return true
            }
        }
        return false
    }

    private static func remove(_ id: String, from state: inout State) {
        guard let clip = state.clips.removeValue(forKey: id) else { return }
        state.totalBytes -= clip.bytes.count
        // Compact the order list once it is mostly stale entries, keeping it proportional to `clips`.
        if state.order.count > 64, state.order.count > 2 * state.clips.count {
            state.order = state.order.filter { state.clips[$0] != nil }
            state.head = 0
        }
    }
}
