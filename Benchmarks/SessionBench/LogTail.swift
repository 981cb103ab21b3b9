import Foundation

/// Reads what was appended to a text file since the last call; counts occurrences of a marker
/// across calls without double counting or missing one split between two reads.
final class LogTail {
    let path: String
    private var offset: UInt64 = 0
    private var carry = ""

    init(_ path: String, fromEnd: Bool = true) {
        self.path = path
        if fromEnd, let attrs = try? FileManager.default.attributesOfItem(atPath: path),
           let size = attrs[.size] as? NSNumber {
            offset = size.uint64Value
        }
    }

    /// Complete new lines since the last call.
    func newLines() -> [String] {
        guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        // A file that shrank was truncated or replaced: start again from its beginning.
        if let size = try? handle.seekToEnd(), size < offset { offset = 0; carry = "" }
        try? handle.seek(toOffset: offset)
        let data = handle.readDataToEndOfFile()
        if data.isEmpty { return [] }
        offset += UInt64(data.count)
        var text = carry + String(decoding: data, as: UTF8.self)
        if let lastNewline = text.lastIndex(of: "\n") {
            carry = String(text[text.index(after: lastNewline)...])
            text = String(text[..<lastNewline])
        } else {
            carry = text
            return []
        }
        return text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    func count(_ marker: String) -> Int { newLines().filter { $0.contains(marker) }.count }
}
