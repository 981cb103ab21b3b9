import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A unique scratch directory under /tmp, owned by the current user, mode 0755.
/// 0755 (not mkdtemp's 0700) so helpers that drop privileges can still traverse it.
public final class TempDirectory: Sendable {
    public let path: String

    public init(prefix: String = "labkit") throws {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw LabError("mkdtemp failed: \(String(cString: strerror(errno)))") }
        path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        chmod(path, 0o755)
    }

    /// Path of `name` inside the directory.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Removes the directory and its contents; safe to call more than once.
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
