import Foundation
import NIOCore
import Synchronization

/// One stored clip. Immutable: a new clip gets a new id, so an id always names the same bytes.
public struct MediaClip: Sendable, Equatable {
    /// 128 random bits, base64url without padding (22 characters): the only thing that makes a clip
    /// URL unguessable, since the media server needs no authentication (speakers cannot send any).
    public let id: String
    /// As given to `put` (e.g. "audio/wav"); sent as Content-Type.
    public let mime: String
    /// The bytes, stored once. A `ByteBuffer` is shared by reference (copy-on-write, and nobody
    /// writes), so every response writes slices of this one storage instead of a copy per request.
    public let body: ByteBuffer
    /// Monotonic, so a wall-clock jump (NTP at boot) neither expires clips early nor keeps them.
    public let expires: ContinuousClock.Instant
    /// "wav", "mp3" …: the URL ends in it because some renderers decide the codec by extension.
    public let fileExtension: String

    public var size: Int { body.readableBytes }

    /// The path the media server answers for this clip.
    public var path: String { "/media/\(id).\(fileExtension)" }
}

public enum MediaStoreError: Error, Equatable, CustomStringConvertible {
    case unsupportedMime(String)
    case tooLarge(size: Int, limit: Int)
    case invalidTTL(Double)
    /// Pinned clips (of announcements not finished yet) fill the store: a new clip would need one
    /// of them evicted, and a queued announcement would then have nothing to play.
    case full(size: Int, pinnedBytes: Int, pinnedClips: Int, limit: Int)

    public var description: String {
        switch self {
        case .unsupportedMime(let mime):
            "unsupported media type \"\(mime)\" (supported: \(MediaStore.extensions.keys.sorted().joined(separator: ", ")))"
        case .tooLarge(let size, let limit):
            "a clip of \(size) bytes is larger than the media store (\(limit) bytes)"
        case .invalidTTL(let ttl):
            "a clip's time to live must be a positive number of seconds, not \(ttl)"
        case .full(let size, let pinnedBytes, let pinnedClips, let limit):
            "the media store is full: \(Self.mib(pinnedBytes)) MiB of clips (\(pinnedClips)) wait for queued announcements "
                + "and a clip of \(Self.mib(size)) MiB does not fit beside them (media.max_bytes is \(Self.mib(limit)) MiB)"
        }
    }

    private static func mib(_ bytes: Int) -> String {
        let value = Double(bytes) / 1_048_576
        return value >= 10 || value == value.rounded() ? String(Int(value.rounded())) : String(format: "%.1f", value)
    }
}

/// The clips speakers fetch from the media server: in memory, bounded, each with a time to live.
///
/// Memory only, by design: clips are short-lived (an announcement is played within seconds of being
/// stored) and regenerating one is cheaper than managing files that outlive a crash. The bound is
/// on the sum of the clips' sizes; when a new clip does not fit, the oldest are dropped first even
/// if their time to live has not run out — a speaker still fetching one gets a 404, which beats
/// the daemon growing without limit when a plugin stores clips in a loop.
///
/// Except pinned clips: the clip of an accepted announcement is pinned until the announcement ends
/// (a count, so two announcements can share one clip). A pinned clip neither expires nor is
/// evicted; when pinned clips leave no room for a new one, `put` refuses it (`.full`) instead, so
/// the new announcement fails with a reason and the queued ones keep their clips. A clip put with
/// a `lease` is held the same way until it is pinned or the lease runs out: that covers the moment
/// between a TTS plugin storing a clip and its announcement pinning it.
public final class MediaStore: Sendable {
    /// Essence (lowercased, without parameters) → file extension. WAV and MP3 are what every
    /// supported speaker plays; the others are here for TTS engines that produce them natively.
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

    /// A refused `put`: the count lets a caller tell whether a refusal happened after a point.
    public struct Refusals: Sendable, Equatable {
        public var count: UInt64 = 0
        public var last: MediaStoreError?
    }

    private struct State {
        var clips: [String: MediaClip] = [:]
        /// Ids oldest first; `head` skips removed entries without shifting the array each time.
        var order: [String] = []
        var head = 0
        var totalBytes = 0
        /// Pin counts of clips that have any.
        var pins: [String: Int] = [:]
        /// Clips held until pinned or until this instant.
        var leases: [String: ContinuousClock.Instant] = [:]
        var refusals = Refusals()

        func isHeld(_ id: String, at instant: ContinuousClock.Instant) -> Bool {
            pins[id] != nil || (leases[id].map { $0 > instant } ?? false)
        }
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

    /// Stores a copy of `bytes` for `ttl` seconds and returns it with its new id. With a `lease`
    /// (seconds) the clip is held (not evicted, not expired) until it is pinned or the lease ends.
    @discardableResult
    public func put(_ bytes: some Collection<UInt8>, mime: String, ttl: Double, lease: Double? = nil) throws(MediaStoreError) -> MediaClip {
        guard let ext = Self.fileExtension(forMime: mime) else { throw .unsupportedMime(mime) }
        guard ttl.isFinite, ttl > 0 else { throw .invalidTTL(ttl) }
        let size = bytes.count
        guard size <= maxTotalBytes else { throw refuse(.tooLarge(size: size, limit: maxTotalBytes)) }
        // Durations above ~292 years overflow; nobody means that, a day is plenty.
        let lifetime = Duration.milliseconds(Int64(min(ttl, 86_400 * 365) * 1000))
        let instant = now()
        // The one copy of the bytes: every response afterwards shares this storage.
        let clip = MediaClip(id: Self.newID(), mime: mime.trimmingCharacters(in: .whitespaces),
                             body: ByteBuffer(bytes: bytes), expires: instant + lifetime, fileExtension: ext)
        let refused: MediaStoreError? = state.withLock { state in
            Self.removeExpired(&state, at: instant)
            if state.totalBytes + size > maxTotalBytes {
                // Only clips nobody waits for may make room; if those are not enough, evict nothing.
                let held = state.clips.values.filter { state.isHeld($0.id, at: instant) }
                let heldBytes = held.reduce(0) { $0 + $1.size }
                if heldBytes + size > maxTotalBytes {
                    let error = MediaStoreError.full(size: size, pinnedBytes: heldBytes, pinnedClips: held.count, limit: maxTotalBytes)
                    state.refusals.count += 1
                    state.refusals.last = error
                    return error
                }
                while state.totalBytes + size > maxTotalBytes, Self.removeOldestUnheld(&state, at: instant) {}
            }
            state.clips[clip.id] = clip
            state.order.append(clip.id)
            state.totalBytes += size
            if let lease, lease > 0 {
                state.leases[clip.id] = instant + .milliseconds(Int64(min(lease, 86_400) * 1000))
            }
            return nil
        }
        if let refused { throw refused }
        return clip
    }

    @discardableResult
    public func put(_ data: Data, mime: String, ttl: Double, lease: Double? = nil) throws(MediaStoreError) -> MediaClip {
        try put([UInt8](data), mime: mime, ttl: ttl, lease: lease)
    }

    /// The clip, or nil when the id is unknown, was evicted or has expired (a held clip does not).
    public func clip(id: String) -> MediaClip? {
        let instant = now()
        return state.withLock { state in
            guard let clip = state.clips[id] else { return nil }
            if clip.expires <= instant, !state.isHeld(id, at: instant) {
                Self.remove(id, from: &state)
                return nil
            }
            return clip
        }
    }

    /// Keeps clip `id` (no expiry, no eviction) until as many `unpin`s; ends its lease. False when
    /// the clip is not in the store (any more).
    @discardableResult
    public func pin(id: String) -> Bool { pinClip(id: id) != nil }

    /// `pin`, handing back the clip it keeps; nil when the clip is not in the store (any more).
    public func pinClip(id: String) -> MediaClip? {
        let instant = now()
        return state.withLock { state in
            guard let clip = state.clips[id], clip.expires > instant || state.isHeld(id, at: instant) else { return nil }
            state.pins[id, default: 0] += 1
            state.leases.removeValue(forKey: id)
            return clip
        }
    }

    /// Undoes one `pin`. The last one makes the clip ordinary again: expired, it goes at once.
    public func unpin(id: String) {
        let instant = now()
        state.withLock { state in
            guard let count = state.pins[id] else { return }
            if count > 1 {
                state.pins[id] = count - 1
                return
            }
            state.pins.removeValue(forKey: id)
            if let clip = state.clips[id], clip.expires <= instant, !state.isHeld(id, at: instant) {
                Self.remove(id, from: &state)
            }
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
    /// Bytes of pinned (and leased) clips.
    public var heldBytes: Int {
        let instant = now()
        return state.withLock { state in state.clips.values.filter { state.isHeld($0.id, at: instant) }.reduce(0) { $0 + $1.size } }
    }
    public var refusals: Refusals { state.withLock { $0.refusals } }

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

    private func refuse(_ error: MediaStoreError) -> MediaStoreError {
        state.withLock { state in
            state.refusals.count += 1
            state.refusals.last = error
        }
        return error
    }

    private static func removeExpired(_ state: inout State, at instant: ContinuousClock.Instant) {
        // Leases that ran out are dropped first, so their clips expire like any other.
        state.leases = state.leases.filter { $0.value > instant }
        // Clips have different lifetimes, so expired ones are not necessarily the oldest: scan all.
        // The store holds tens of clips, not thousands.
        let expired = state.clips.values.filter { $0.expires <= instant && !state.isHeld($0.id, at: instant) }.map(\.id)
        for id in expired { remove(id, from: &state) }
    }

    /// Removes the oldest clip nobody holds; false when there is none.
    private static func removeOldestUnheld(_ state: inout State, at instant: ContinuousClock.Instant) -> Bool {
        var index = state.head
        while index < state.order.count {
            let id = state.order[index]
            if state.clips[id] == nil {
                // Already gone: only a gap at the front can be skipped for good.
                if index == state.head { state.head += 1 }
            } else if !state.isHeld(id, at: instant) {
                if index == state.head { state.head += 1 }
                remove(id, from: &state)
                return true
            }
            index += 1
        }
        return false
    }

    private static func remove(_ id: String, from state: inout State) {
        guard let clip = state.clips.removeValue(forKey: id) else { return }
        state.totalBytes -= clip.size
        state.pins.removeValue(forKey: id)
        state.leases.removeValue(forKey: id)
        // Compact the order list once it is mostly stale entries, keeping it proportional to `clips`.
        if state.order.count > 64, state.order.count > 2 * state.clips.count {
            state.order = state.order.filter { state.clips[$0] != nil }
            state.head = 0
        }
    }
}
