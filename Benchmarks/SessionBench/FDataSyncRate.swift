import Foundation
import LabKit
#if canImport(Glibc)
import Glibc
#endif

/// Appends of a small record, each followed by fdatasync, per second, in a scratch file under /tmp
/// (the file system the daemon's state directories live on): the ceiling for one sync per message.
func fdatasyncRate(duration: Double) throws -> Double {
    let dir = try TempDirectory(prefix: "sbbench-sync")
    defer { dir.remove() }
    let fd = open(dir.file("journal"), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw LabError("cannot open a scratch file: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    let record = [UInt8](repeating: 0x61, count: 64)
    let start = ContinuousClock.now
    var count = 0
    while seconds(ContinuousClock.now - start) < duration {
        guard record.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == record.count, fdatasync(fd) == 0 else {
            throw LabError("write/fdatasync failed: \(String(cString: strerror(errno)))")
        }
        count += 1
    }
    return Double(count) / seconds(ContinuousClock.now - start)
}
