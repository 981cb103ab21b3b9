import Foundation

/// Who holds the state directory's lock, found in the kernel's lock table (/proc/locks) instead of by
/// taking the lock: a doctor that took it, even for a moment, could make a daemon starting at that
/// moment refuse to run.
enum StateLock {
    enum Holder: Sendable, Equatable {
        case heldBy(pid: Int)
        /// The lock file is there and nobody holds it; `pid` is the one written by its last holder.
        case stale(pid: Int?)
        case noLockFile
    }

    static func holder(stateDirectory: String, locks: String? = try? String(contentsOfFile: "/proc/locks", encoding: .utf8)) -> Holder {
        let path = stateDirectory + "/lock"
        var st = stat()
        guard stat(path, &st) == 0 else { return .noLockFile }
        let written = (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        let dev = UInt64(st.st_dev)
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff)
        let minor = (dev & 0xff) | ((dev >> 12) & ~0xff)
        let file = String(format: "%02llx:%02llx:%llu", major, minor, UInt64(st.st_ino))
        // "3: FLOCK  ADVISORY  WRITE 11013 fe:00:16221574 0 EOF"; waiters have "->" after the number.
        for line in (locks ?? "").split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 6, f[1] == "FLOCK", let pid = Int(f[4]), f[5] == file else { continue }
            return .heldBy(pid: pid)
        }
        return .stale(pid: written)
    }
}
