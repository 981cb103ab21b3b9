import Foundation

/// An append-only file of checksummed records: `[u32 length][u32 crc32][payload]`.
///
/// One `append` is one write(2): a killed process either wrote the whole batch or none of it, and a
/// torn tail after power loss fails its checksum and is cut off on the next open.
/// Not thread-safe; `Spool` serialises access.
final class RecordFile {
    enum Durability: Sendable { case process, fsync }

    struct IOError: Error, CustomStringConvertible {
        let description: String
        init(_ what: String, path: String, errno code: Int32 = errno) {
            description = "\(what) \(path): \(String(cString: strerror(code)))"
        }
    }

    let path: String
    private var fd: Int32
    private(set) var size: Int

    /// Opens (creating if needed) and replays every valid record to `body`, truncating a torn tail.
    init(path: String, replay body: (ArraySlice<UInt8>) throws -> Void) throws {
        self.path = path
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_APPEND, 0o600)
        guard fd >= 0 else { throw IOError("cannot open", path: path) }
        let data = try RecordFile.readAll(fd: fd, path: path)
        var offset = 0
        while offset + 8 <= data.count {
            var header = ByteReader(data[offset..<(offset + 8)])
            let length = Int(try header.u32())
            let crc = try header.u32()
            let start = offset + 8
            guard length <= data.count - start else { break }
            let payload = data[start..<(start + length)]
            guard CRC32.checksum(payload) == crc else { break }
            try body(payload)
            offset = start + length
        }
        if offset != data.count {
            // A torn write from a crash: everything after the last whole record is garbage.
            guard ftruncate(fd, off_t(offset)) == 0 else { throw IOError("cannot truncate", path: path) }
        }
        size = offset
    }

    deinit { close(fd) }

    static func frame(_ payloads: [[UInt8]]) -> [UInt8] {
        var w = ByteWriter(capacity: payloads.reduce(0) { $0 + $1.count + 8 })
        for p in payloads {
            w.u32(UInt32(p.count))
            w.u32(CRC32.checksum(p))
            for b in p { w.u8(b) }
        }
        return w.bytes
    }

    func append(_ payloads: [[UInt8]], durability: Durability) throws {
        let buffer = RecordFile.frame(payloads)
        try RecordFile.writeAll(fd: fd, buffer, path: path)
        if durability == .fsync, fdatasync(fd) != 0 { throw IOError("cannot sync", path: path) }
        size += buffer.count
    }

    /// Replaces the whole file with `payloads` atomically (write temp, fsync, rename).
    func rewrite(_ payloads: [[UInt8]]) throws {
        let tmp = path + ".compact"
        let out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard out >= 0 else { throw IOError("cannot create", path: tmp) }
        let buffer = RecordFile.frame(payloads)
        do {
            try RecordFile.writeAll(fd: out, buffer, path: tmp)
            guard fsync(out) == 0 else { throw IOError("cannot sync", path: tmp) }
        } catch {
            close(out)
            throw error
        }
        close(out)
        guard rename(tmp, path) == 0 else { throw IOError("cannot rename", path: tmp) }
        let reopened = open(path, O_RDWR | O_CLOEXEC | O_APPEND, 0o600)
        guard reopened >= 0 else { throw IOError("cannot reopen", path: path) }
        close(fd)
        fd = reopened
        size = buffer.count
    }

    private static func writeAll(fd: Int32, _ buffer: [UInt8], path: String) throws {
        try buffer.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw IOError("cannot write", path: path)
                }
                done += n
            }
        }
    }

    private static func readAll(fd: Int32, path: String) throws -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        lseek(fd, 0, SEEK_SET)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw IOError("cannot read", path: path)
            }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }
}
