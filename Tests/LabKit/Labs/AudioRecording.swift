import Foundation

/// What a lab speaker played: an append-only file of raw PCM (signed 16-bit little endian, mono,
/// 22,050 Hz), written by gmediarender's sink as it plays.
///
/// Why raw and not WAV: gmediarender rebuilds its sink for every track, so a `wavenc ! filesink`
/// file is truncated at each new URI (a stream, then an announcement, then the stream again leaves
/// only the last one), and wavenc writes the real data size into the header only at EOS (until then
/// the header claims 0x7fff0000 bytes, ~12,000 s; a killed renderer never fixes it). A raw file
/// opened in append mode keeps everything in order, is valid at every instant, and its size is the
/// clock: `bytesPerSecond` of it per second played. Marks (byte offsets) cut it into parts.
public struct AudioRecording: Sendable {
    public static let sampleRate = 22_050
    public static let bytesPerSecond = sampleRate * 2
    /// The gst caps the renderer's pipeline converts everything to before writing.
    public static let caps = "audio/x-raw,format=S16LE,rate=\(sampleRate),channels=1"
    /// sox's description of the file format (put before the file name).
    public static let soxFormat = ["-t", "raw", "-r", "\(sampleRate)", "-e", "signed-integer", "-b", "16", "-c", "1"]

    public let path: String

    public init(path: String) { self.path = path }

    /// Bytes recorded so far (0 before the first play).
    public var byteCount: Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    /// Seconds of audio recorded so far.
    public var duration: Double { Double(byteCount) / Double(AudioRecording.bytesPerSecond) }

    /// The current end of the recording: pass it as `from:` later to look at what was played since.
    public func mark() -> Int { byteCount & ~1 }

    /// Statistics (sox `stat`) of the part between two marks (default: all of it).
    public func stats(from start: Int = 0, to end: Int? = nil) throws -> AudioStats {
        let (first, count) = samples(from: start, to: end)
        guard count > 0 else { return AudioStats(duration: 0, rmsAmplitude: 0, maxAmplitude: 0, roughFrequency: 0, audible: nil) }
        let result = try Shell.run(["sox"] + AudioRecording.soxFormat + [path, "-n", "trim", "\(first)s", "\(count)s", "stat"])
        guard result.status == 0 else { throw LabError("sox stat of \(path) failed: \(result.err)") }
        var stats = AudioStats(soxStat: result.err, duration: Double(count) / Double(AudioRecording.sampleRate))
        stats.audible = try audibleSpan(from: first, count: count)
        return stats
    }

    /// Writes the part between two marks as a WAV file (for sox, a player, or a bug report).
    public func exportWAV(to wavPath: String, from start: Int = 0, to end: Int? = nil) throws {
        let (first, count) = samples(from: start, to: end)
        guard count > 0 else { throw LabError("nothing recorded in \(path) between bytes \(start) and \(end ?? byteCount)") }
        try Shell.runChecked(["sox"] + AudioRecording.soxFormat + [path, wavPath, "trim", "\(first)s", "\(count)s"])
    }

    /// Waits until `seconds` more audio than at `mark` were recorded. True if they were in time.
    @discardableResult
    public func waitForAudio(seconds: Double, after mark: Int = 0, timeout: Double) -> Bool {
        waitUntil(timeout: timeout, interval: 0.05) {
            byteCount - mark >= Int(seconds * Double(AudioRecording.bytesPerSecond))
        }
    }

    private func samples(from start: Int, to end: Int?) -> (first: Int, count: Int) {
        let stop = min(end ?? byteCount, byteCount) / 2
        let first = max(0, start / 2)
        return (first, max(0, stop - first))
    }

    /// From the first to the last 20 ms window whose RMS is above `AudioStats.silenceRMS`, in seconds
    /// from the start of the part; nil when all of it is silent.
    private func audibleSpan(from first: Int, count: Int) throws -> ClosedRange<Double>? {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw LabError("cannot read \(path)") }
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(first * 2))
        let data = try handle.read(upToCount: count * 2) ?? Data()
        let window = AudioRecording.sampleRate / 50
        var firstLoud: Int?, lastLoud: Int?
        data.withUnsafeBytes { raw in
            let pcm = raw.bindMemory(to: Int16.self)
            var index = 0
            while index < pcm.count {
                let end = min(index + window, pcm.count)
                var sum = 0.0
                for i in index..<end { let s = Double(Int16(littleEndian: pcm[i])) / 32768; sum += s * s }
                if (sum / Double(end - index)).squareRoot() > AudioStats.silenceRMS {
                    if firstLoud == nil { firstLoud = index }
                    lastLoud = end
                }
                index = end
            }
        }
        guard let firstLoud, let lastLoud else { return nil }
        return Double(firstLoud) / Double(AudioRecording.sampleRate)...Double(lastLoud) / Double(AudioRecording.sampleRate)
    }
}
