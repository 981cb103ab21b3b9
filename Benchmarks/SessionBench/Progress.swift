import Foundation

/// Progress goes to stderr so stdout carries only the results.
func progress(_ text: String) {
    FileHandle.standardError.write(Data(("  .. " + text + "\n").utf8))
}
