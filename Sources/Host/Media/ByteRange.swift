/// What a `Range` request header asks of a representation of `length` bytes (RFC 9110 §14).
///
/// Speakers fetch clips with ranges: GStreamer-based renderers open with `bytes=0-`, Sonos probes
/// the end of an MP3 for tags, and some renderers resume after a stall. Only single byte ranges
/// are served as 206; everything else falls back to the whole clip, which every client handles.
public enum ByteRangeRequest: Sendable, Equatable {
    /// 200 with the whole representation: no header, a unit other than `bytes`, more than one
    /// range, or a header we cannot parse (RFC 9110 §14.2 lets a server ignore those).
    case whole
    /// 206 with these bytes (inclusive offsets, already clamped to the length).
    case partial(ClosedRange<Int>)
    /// 416 with `Content-Range: bytes */length`: a well-formed single range that selects nothing,
    /// e.g. a first byte at or beyond the end, a zero-length suffix, or any range of an empty clip.
    case unsatisfiable
}

public enum ByteRange {
    /// Decides how to answer `header` (the `Range` field's value, nil when absent).
    ///
    /// Choices, each deliberate:
    /// - Several ranges (`bytes=0-9,20-29`) are answered with the whole clip (200) rather than
    ///   `multipart/byteranges`: renderers do not ask for them, and a multipart body is one more
    ///   format to get wrong. RFC 9110 allows ignoring Range at any time.
    /// - Malformed headers (`bytes=abc`, `bytes=5-2`, `bytes 0-1`, signs, spaces inside numbers)
    ///   are ignored: 200 with the whole clip, as nginx and Apache do. A 416 is only for a
    ///   well-formed range that does not overlap the clip.
    /// - A last byte beyond the end is clamped; a suffix longer than the clip selects all of it
    ///   (still 206, with `Content-Range: bytes 0-(len-1)/len`), as RFC 9110 §14.1.2 says.
    /// - Numbers too large for `Int` saturate instead of failing to parse, so
    ///   `bytes=99999999999999999999-` is unsatisfiable (416), not malformed.
    public static func resolve(_ header: String?, length: Int) -> ByteRangeRequest {
        guard let header else { return .whole }
        let value = header.utf8.trimmingWhitespace()
        // The unit is case-insensitive (RFC 9110 §14.1); there is no whitespace around "=".
        guard let equals = value.firstIndex(of: UInt8(ascii: "=")),
              String(decoding: value[..<equals], as: UTF8.self).lowercased() == "bytes" else { return .whole }
        // A recipient must accept empty list elements ("bytes=0-9," or "bytes=, 0-9").
        let specs = value[value.index(after: equals)...]
            .split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
            .map { $0.trimmingWhitespace() }
            .filter { !$0.isEmpty }
        guard specs.count == 1, let spec = specs.first,
              let dash = spec.firstIndex(of: UInt8(ascii: "-")) else { return .whole }
        let firstText = spec[..<dash]
        let lastText = spec[spec.index(after: dash)...]

        if firstText.isEmpty {
            // Suffix range "-n": the last n bytes.
            guard let suffix = saturatingNumber(lastText) else { return .whole }
            guard suffix > 0, length > 0 else { return .unsatisfiable }
            return .partial(max(0, length - suffix)...(length - 1))
        }
        guard let first = saturatingNumber(firstText) else { return .whole }
        var last = Int.max
        if !lastText.isEmpty {
            guard let parsed = saturatingNumber(lastText) else { return .whole }
            // "A byte-range-spec is invalid if the last-pos value is present and less than the
            // first-pos" (RFC 9110 §14.1.1): invalid, so ignored rather than unsatisfiable.
            guard parsed >= first else { return .whole }
            last = parsed
        }
        guard first < length else { return .unsatisfiable }
        return .partial(first...min(last, length - 1))
    }

    /// The `Content-Range` value for a 206.
    public static func contentRange(_ range: ClosedRange<Int>, length: Int) -> String {
        "bytes \(range.lowerBound)-\(range.upperBound)/\(length)"
    }

    /// The `Content-Range` value for a 416.
    public static func unsatisfiedContentRange(length: Int) -> String {
        "bytes */\(length)"
    }

    /// 1*DIGIT, saturating at `Int.max`; nil for anything else (empty, signs, spaces).
    private static func saturatingNumber(_ digits: ArraySlice<UInt8>) -> Int? {
        guard !digits.isEmpty else { return nil }
        var value = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            value = (overflow1 || overflow2) ? Int.max : sum
        }
        return value
    }
}

private extension ArraySlice<UInt8> {
    func trimmingWhitespace() -> ArraySlice<UInt8> {
        let isSpace: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        guard let start = firstIndex(where: { !isSpace($0) }),
              let end = lastIndex(where: { !isSpace($0) }) else { return self[endIndex...] }
        return self[start...end]
    }
}

private extension String.UTF8View {
    func trimmingWhitespace() -> ArraySlice<UInt8> { Array(self)[...].trimmingWhitespace() }
}
