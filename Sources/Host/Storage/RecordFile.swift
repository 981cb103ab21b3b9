import Foundation

/// An append-only file of checksummed records: `[u32 length][u32 crc32][payload]`.
///
/// One `append` is one write(2): a killed process either wrote the whole batch or none of it, and a
/// torn tail after power loss fails its checksum and is cut off on the next open.
///
/// I/O faults (a full disk, EIO, a file size limit) never leave a torn batch in front of later
/// records: a failed or short append is cut back to the last whole batch before the error is thrown,
/// so the caller can refuse what it was recording (the session then withholds the PUBACK) and every
/// later append lands right after good data. See `append` for the case where the cut itself fails.
/// Not thread-safe; `Spool` serialises access.
final class RecordFile {
    enum Durability: Sendable { case process, fsync }

    struct IOError: Error, CustomStringConvertible {
        let description: String
        init(_ what: String, path: String, errno code: Int32 = errno) {
            description = "\(what) \(path): \(String(cString: strerror(code)))"
        }
        init(description: String) { self.description = description }
    }

    let path: String
    private var fd: Int32
    /// Bytes of whole records. Once an append returns (or throws), the file holds exactly this much,
    /// unless `tornTail` says a cut failed.
    private(set) var size: Int
    /// A failed append left bytes after `size` that could not be cut off. No append may land after
    /// them (the next open would drop it with the garbage), so appends are refused until a retry of
    /// the cut succeeds (or a `rewrite` replaces the file).
    private(set) var tornTail = false
    /// The file's directory entry (it was just created, or renamed into place) may not be on disk
    /// yet. Synced before the next `fsync`-durability append returns, so a record that promises to
    /// survive power loss is never in a file that power loss would unname.
    private var directoryEntryUnsynced: Bool

    /// How a failed append is cut back. Only tests replace it: a real ftruncate that shrinks a
    /// regular file has no practical way to fail on demand.
    var truncateFile: (Int32, off_t) -> Int32 = { ftruncate($0, $1) }

    /// Opens (creating if needed) and replays every valid record to `body`, truncating a torn tail.
    init(path: String, replay body: (ArraySlice<UInt8>) throws -> Void) throws {
        self.path = path
        // A temp file left by a compaction that died before its rename is garbage (the rename is the
        // commit point); on a full disk its space is worth having back.
        unlink(RecordFile.compactionPath(path))
        var created = true
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_APPEND, 0o600)
        if fd < 0, errno == EEXIST {
            created = false
            fd = open(path, O_RDWR | O_CLOEXEC | O_APPEND)
        }
        guard fd >= 0 else { throw IOError("cannot open", path: path) }
        directoryEntryUnsynced = created
        let data: [UInt8]
        var offset = 0
        do {
            data = try RecordFile.readAll(fd: fd, path: path)
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
        } catch {
            close(fd)  // deinit does not run for an object that never finished initialising
            throw error
        }
        size = offset
        if offset != data.count {
            // A torn write from a crash: everything after the last whole record is garbage.
            guard ftruncate(fd, off_t(offset)) == 0 else {
                let error = IOError("cannot truncate", path: path)
                close(fd)
                throw error
            }
        }
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

    /// Appends `payloads` as one batch, or throws and leaves the file as it was.
    ///
    /// A failed or short write (ENOSPC, EIO, EFBIG) and a failed sync are cut back with ftruncate to
    /// the last good size. The fd is O_APPEND, so the next write goes to the new end of the file: the
    /// write position needs no separate repair. If the cut itself fails, the file is marked torn:
    /// the whole records at the front of the failed batch are invalidated by a stop mark written
    /// over the batch's first header (so a restart replays nothing of that batch), and every later
    /// append first retries the cut and is refused until it succeeds, so nothing is ever written
    /// after garbage. Refusing (rather than, say, reopening the file elsewhere) keeps the one rule
    /// callers rely on: an append that returned is in the file, one that threw is not.
    func append(_ payloads: [[UInt8]], durability: Durability) throws {
        if tornTail {
            guard truncateFile(fd, off_t(size)) == 0 else {
                throw IOError("cannot cut the torn tail of", path: path)
            }
            tornTail = false
        }
        let buffer = RecordFile.frame(payloads)
        do {
            try RecordFile.writeAll(fd: fd, buffer, path: path)
            if durability == .fsync {
                guard fdatasync(fd) == 0 else { throw IOError("cannot sync", path: path) }
                if directoryEntryUnsynced {
                    try RecordFile.syncDirectory(of: path)
                    directoryEntryUnsynced = false
                }
            }
        } catch {
            throw cutBack(after: error)
        }
        size += buffer.count
    }

    /// Undoes a failed append; returns the error to throw.
    private func cutBack(after failure: Error) -> Error {
        guard truncateFile(fd, off_t(size)) != 0 else { return failure }
        let cutError = IOError("cannot cut it back", path: path)
        tornTail = true
        invalidateTornBatch()
        return IOError(description: "\(failure); \(cutError); refusing further records until the cut succeeds")
    }

    /// Best effort, after a failed cut: overwrite the torn batch's first header with a length no
    /// file can hold, so the next open stops right there even if the process dies before a cut
    /// succeeds. Overwriting bytes that exist needs no new space. A tail shorter than a header is
    /// already ignored on open and is left alone. (pwrite on an O_APPEND fd appends on Linux, hence
    /// the second descriptor.)
    private func invalidateTornBatch() {
        var st = stat()
        guard fstat(fd, &st) == 0, Int(st.st_size) - size >= 8 else { return }
        let writer = open(path, O_WRONLY | O_CLOEXEC)
        guard writer >= 0 else { return }
        let stop = [UInt8](repeating: 0xFF, count: 8)
        _ = stop.withUnsafeBytes { pwrite(writer, $0.baseAddress!, 8, off_t(size)) }
        close(writer)
    }

    /// Replaces the whole file with `payloads` atomically. The new file is written, synced and
    /// opened for the appends that follow before it is renamed over the old one, so once the rename
    /// happened nothing can fail that would leave us without a usable file; the directory is synced
    /// afterwards so the rename survives power loss. On any failure before the rename the old file
    /// stays in use, untouched, and the temp file is removed.
    func rewrite(_ payloads: [[UInt8]]) throws {
        let tmp = RecordFile.compactionPath(path)
        let replacement = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_APPEND, 0o600)
        guard replacement >= 0 else { throw IOError("cannot create", path: tmp) }
        let buffer = RecordFile.frame(payloads)
        do {
            try RecordFile.writeAll(fd: replacement, buffer, path: tmp)
            guard fsync(replacement) == 0 else { throw IOError("cannot sync", path: tmp) }
            guard rename(tmp, path) == 0 else { throw IOError("cannot rename", path: tmp) }
        } catch {
            close(replacement)
            unlink(tmp)
            throw error
        }
        close(fd)
        fd = replacement
        size = buffer.count
        tornTail = false
        // The new contents are in use and whole either way; only the name's durability is at stake.
        // If the sync fails here, the next fsync-durability append retries it and refuses until it
        // works; with `process` durability power loss is outside the promise anyway.
        do {
            try RecordFile.syncDirectory(of: path)
            directoryEntryUnsynced = false
        } catch {
            directoryEntryUnsynced = true
        }
    }

    static func compactionPath(_ path: String) -> String { path + ".compact" }

    private static func syncDirectory(of path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let name = directory.isEmpty ? "." : directory
        let dfd = open(name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dfd >= 0 else { throw IOError("cannot open directory", path: name) }
        defer { close(dfd) }
        guard fsync(dfd) == 0 else { throw IOError("cannot sync directory", path: name) }
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
                // A regular file accepting nothing without an error would otherwise spin here.
                if n == 0 { throw IOError("cannot write", path: path, errno: ENOSPC) }
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
