import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A unique scratch directory under /tmp, owned by the current user, mode 0755.
/// 0755 (not mkdtemp's 0700) so helpers that drop privileges can still traverse it.
///
/// Every one still there when the test process exits is removed then (a test that fails, or that
/// hands its directory to a lab it never takes down, would otherwise leave it in /tmp: a full CI
/// run left some 400). `SB_TEST_KEEP_TMP=1` keeps them, to look inside after a failure.
public final class TempDirectory: Sendable {
    public let path: String

    public init(prefix: String = "labkit") throws {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw LabError("mkdtemp failed: \(String(cString: strerror(errno)))") }
        path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        chmod(path, 0o755)
        TempDirectories.made(path)
    }

    /// Path of `name` inside the directory.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Removes the directory and its contents; safe to call more than once.
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
        TempDirectories.removed(path)
    }
}

/// The test process's temporary directories not removed yet, removed at its exit.
private enum TempDirectories {
    private static let open = Mutex<(paths: Set<String>, hooked: Bool)>(([], false))

    static func made(_ path: String) {
        let hook = open.withLock { state in
            state.paths.insert(path)
            defer { state.hooked = true }
            return !state.hooked
        }
        if hook, ProcessInfo.processInfo.environment["SB_TEST_KEEP_TMP"] != "1" {
            atexit { TempDirectories.removeAll() }
        }
    }

    static func removed(_ path: String) {
        _ = open.withLock { $0.paths.remove(path) }
    }

    private static func removeAll() {
        for path in open.withLock({ $0.paths }) { try? FileManager.default.removeItem(atPath: path) }
    }
}
