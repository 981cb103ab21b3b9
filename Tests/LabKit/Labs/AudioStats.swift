import Foundation

/// The numbers a test asserts on: did sound arrive, how loud, for how long.
public struct AudioStats: Sendable, CustomStringConvertible {
    /// A 20 ms window quieter than this (RMS, full scale 1.0) counts as silence.
    public static let silenceRMS = 0.005

    /// Seconds of audio (from the data size, never from a header).
    public let duration: Double
    /// Full scale is 1.0. espeak-ng speech is around 0.1; a `sine vol 0.5` tone 0.35.
    public let rmsAmplitude: Double
    public let maxAmplitude: Double
    /// sox's estimate; ~440 for a 440 Hz tone, ~1000 for speech.
    public let roughFrequency: Double
    /// First...last non-silent 20 ms window, seconds from the start; nil when silent.
    public var audible: ClosedRange<Double>?

    /// Seconds from the first to the last non-silent moment.
    public var audibleSeconds: Double { audible.map { $0.upperBound - $0.lowerBound } ?? 0 }
    public var isSilent: Bool { audible == nil }

    public init(duration: Double, rmsAmplitude: Double, maxAmplitude: Double, roughFrequency: Double, audible: ClosedRange<Double>?) {
        self.duration = duration
        self.rmsAmplitude = rmsAmplitude
        self.maxAmplitude = maxAmplitude
        self.roughFrequency = roughFrequency
        self.audible = audible
    }

    /// Parses the report of `sox … -n stat` (written to stderr).
    init(soxStat report: String, duration: Double? = nil) {
        var values: [String: Double] = [:]
        for line in report.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let value = Double(parts[1].trimmingCharacters(in: .whitespaces)) else { continue }
            // "RMS     amplitude" -> "RMS amplitude"
            values[parts[0].split(separator: " ").joined(separator: " ")] = value
        }
        self.init(duration: duration ?? values["Length (seconds)"] ?? 0, rmsAmplitude: values["RMS amplitude"] ?? 0,
                  maxAmplitude: values["Maximum amplitude"] ?? 0, roughFrequency: values["Rough frequency"] ?? 0,
                  audible: nil)
    }

    /// Statistics of any audio file sox reads (WAV, MP3, …; raw with `format`): sox converts it to
    /// the recording format, so the numbers compare with a renderer's recording. The duration is
    /// what sox counted in the data, so a WAV whose header was never finalised (wavenc before EOS
    /// claims 0x7fff0000 bytes) still measures right.
    public static func of(file path: String, format: [String] = []) throws -> AudioStats {
        let scratch = try TempDirectory(prefix: "labkit-sox")
        defer { scratch.remove() }
        let raw = scratch.file("audio.raw")
        let result = try Shell.run(["sox"] + format + [path] + AudioRecording.soxFormat + [raw])
        guard result.status == 0 else { throw LabError("sox could not read \(path): \(result.err)") }
        return try AudioRecording(path: raw).stats()
    }

    public var description: String {
        let span = audible.map { String(format: "%.2f-%.2f s", $0.lowerBound, $0.upperBound) } ?? "silent"
        return String(format: "%.2f s, rms %.3f, max %.3f, ~%.0f Hz, audible %@", duration, rmsAmplitude, maxAmplitude,
                      roughFrequency, span)
    }
}
