import Foundation

/// Last `lines` lines of a text file ("" if unreadable); used in error messages.
public func tail(of path: String, lines: Int = 20) -> String {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return "" }
    return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
}
