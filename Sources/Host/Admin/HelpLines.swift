import Foundation

/// Puts a `# HELP` line before each `# TYPE` line the registry renders: metrics made through
/// swift-metrics' factory carry no help text, and a scrape is where an operator reads what a
/// metric means. Families without a known text are left as they are.
enum HelpLines {
    static func add(to exposition: [UInt8], help: [String: String]) -> [UInt8] {
        let typePrefix = Array("# TYPE ".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(exposition.count + help.count * 80)
        for line in exposition.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast() {
            if line.starts(with: typePrefix) {
                let name = String(decoding: line.dropFirst(typePrefix.count).prefix { $0 != UInt8(ascii: " ") }, as: UTF8.self)
                if let text = help[name] {
                    out.append(contentsOf: "# HELP \(name) \(escaped(text))\n".utf8)
                }
            }
            out.append(contentsOf: line)
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// The format's two escapes in help text.
    private static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }
}
