import Foundation
import XCTest

@testable import SpeakerbridgeHost

/// I/O faults in the journal file. Real short writes come from RLIMIT_FSIZE (no root needed): a
/// write that crosses the limit writes up to it and the next one fails with EFBIG, exactly like a
/// disk that fills in the middle of a write. The full-disk case with the real daemon is in
/// `DiskFullTests`.
final class RecordFileTests: XCTestCase {
    var dir = ""
    var path: String { dir + "/spool.log" }

    override func setUp() {
        dir = NSTemporaryDirectory() + "recordfile-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func open(_ at: String? = nil) throws -> RecordFile {
        try RecordFile(path: at ?? path) { _ in }
    }

    /// Every record a fresh open replays, as text.
    func replayed(_ at: String? = nil) throws -> [String] {
        var out: [String] = []
        _ = try RecordFile(path: at ?? path) { out.append(String(decoding: $0, as: UTF8.self)) }
        return out
    }

    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    func fileSize(_ at: String? = nil) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: at ?? path)[.size]) as? Int) ?? -1
    }

    /// Runs `body` with the process's file size limit at `bytes` (SIGXFSZ ignored, so an over-limit
    /// write fails with EFBIG instead of killing the test process), then restores both.
    func withFileSizeLimit<T>(_ bytes: Int, _ body: () throws -> T) rethrows -> T {
        let previousHandler = signal(SIGXFSZ, SIG_IGN)
        var previous = rlimit()
        XCTAssertEqual(getrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &previous), 0)
        var limited = previous
        limited.rlim_cur = rlim_t(bytes)
        XCTAssertEqual(setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &limited), 0)
        defer {
            setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &previous)
            signal(SIGXFSZ, previousHandler)
        }
        return try body()
    }

    func testShortWriteIsCutBackAndLaterRecordsFollowGoodData() throws {
        let file = try open()
        try file.append([bytes("one")], durability: .process)
        try file.append([bytes("two")], durability: .fsync)
        let good = file.size
        XCTAssertEqual(fileSize(), good)

        // A batch of two: the first record fits under the limit, the second is torn mid-payload.
        let big = String(repeating: "x", count: 200)
        XCTAssertThrowsError(try withFileSizeLimit(good + 40) {
            try file.append([bytes("three"), bytes(big)], durability: .process)
        }) { error in
            XCTAssertTrue("\(error)".contains("cannot write \(self.path): File too large"), "\(error)")
        }
        XCTAssertEqual(fileSize(), good, "the torn batch must be cut back")
        XCTAssertEqual(file.size, good)
        XCTAssertFalse(file.tornTail)

        // Nothing can be written at all (the limit is the current size): refused, file unchanged.
        XCTAssertThrowsError(try withFileSizeLimit(good) { try file.append([bytes("four")], durability: .process) })
        XCTAssertEqual(fileSize(), good)

        // Room again: the next append lands right after the good data, and a reopen keeps everything
        // before and after the failures (and nothing of the failed batches).
        try file.append([bytes("five")], durability: .fsync)
        XCTAssertEqual(try replayed(), ["one", "two", "five"])
        XCTAssertEqual(fileSize(), file.size)
    }

    func testFailedCutRefusesAppendsUntilTheCutSucceeds() throws {
        let file = try open()
        try file.append([bytes("one")], durability: .process)
        try file.append([bytes("two")], durability: .process)
        let good = file.size
        var cutFails = true
        let realTruncate = file.truncateFile
        file.truncateFile = { fd, length in
            if cutFails { errno = EIO; return -1 }
            return realTruncate(fd, length)
        }

        let big = String(repeating: "y", count: 200)
        XCTAssertThrowsError(try withFileSizeLimit(good + 60) {
            try file.append([bytes("three"), bytes(big)], durability: .process)
        }) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("File too large") && text.contains("cannot cut it back") && text.contains("Input/output error"), text)
        }
        XCTAssertTrue(file.tornTail)
        XCTAssertEqual(fileSize(), good + 60, "the cut failed, so the torn bytes are still there")

        // A restart at this moment (a copy of the file, opened fresh) replays only the whole batches:
        // the stop mark hides "three", which was written whole before the tear.
        let copy = dir + "/copy.log"
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        XCTAssertEqual(try replayed(copy), ["one", "two"])

        // While the cut keeps failing, appends are refused and write nothing.
        XCTAssertThrowsError(try file.append([bytes("four")], durability: .process)) { error in
            XCTAssertTrue("\(error)".contains("cannot cut the torn tail of \(self.path): Input/output error"), "\(error)")
        }
        XCTAssertEqual(fileSize(), good + 60)

        // Once the cut works, the next append cuts first and lands after the good data.
        cutFails = false
        try file.append([bytes("five")], durability: .process)
        XCTAssertFalse(file.tornTail)
        XCTAssertEqual(try replayed(), ["one", "two", "five"])
    }

    func testReopenAfterFailedAppendKeepsEveryEarlierRecord() throws {
        var file = try open()
        for i in 1...50 { try file.append([bytes("record \(i)")], durability: .process) }
        let good = file.size
        XCTAssertThrowsError(try withFileSizeLimit(good + 5) {
            try file.append([bytes(String(repeating: "z", count: 100))], durability: .process)
        })
        file = try open()  // the daemon restarting after the failure
        XCTAssertEqual(file.size, good)
        XCTAssertEqual(try replayed(), (1...50).map { "record \($0)" })
        try file.append([bytes("after restart")], durability: .process)
        XCTAssertEqual(try replayed().last, "after restart")
        XCTAssertEqual(try replayed().count, 51)
    }

    func testFailedCompactionLeavesTheOldFileInUse() throws {
        let file = try open()
        try file.append([bytes("a")], durability: .process)
        try file.append([bytes("b")], durability: .process)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))

        // The replacement is larger than the limit: its write fails half way.
        let large = (0..<20).map { bytes("compacted \($0) " + String(repeating: "c", count: 50)) }
        XCTAssertThrowsError(try withFileSizeLimit(500) { try file.rewrite(large) }) { error in
            XCTAssertTrue("\(error)".contains("cannot write \(RecordFile.compactionPath(self.path)): File too large"), "\(error)")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before, "the old file is untouched")
        XCTAssertFalse(FileManager.default.fileExists(atPath: RecordFile.compactionPath(path)), "temp file removed")

        // Still the file in use: appends land in it and survive a reopen.
        try file.append([bytes("c")], durability: .fsync)
        XCTAssertEqual(try replayed(), ["a", "b", "c"])
    }

    func testTempFileThatCannotBeCreatedLeavesTheOldFileInUse() throws {
        let file = try open()
        try file.append([bytes("a")], durability: .process)
        // A directory where the temp file should go: open(2) fails with EISDIR.
        try FileManager.default.createDirectory(atPath: RecordFile.compactionPath(path), withIntermediateDirectories: false)
        XCTAssertThrowsError(try file.rewrite([bytes("new")])) { error in
            XCTAssertTrue("\(error)".contains("cannot create"), "\(error)")
        }
        try file.append([bytes("b")], durability: .process)
        XCTAssertEqual(try replayed(), ["a", "b"])
    }

    func testCompactionSwitchesToTheNewFileAndLaterAppendsLandInIt() throws {
        let file = try open()
        for i in 1...10 { try file.append([bytes("old \(i)")], durability: .process) }
        try file.rewrite([bytes("kept 1"), bytes("kept 2")])
        XCTAssertFalse(FileManager.default.fileExists(atPath: RecordFile.compactionPath(path)))
        try file.append([bytes("after")], durability: .fsync)
        XCTAssertEqual(try replayed(), ["kept 1", "kept 2", "after"])
        XCTAssertEqual(fileSize(), file.size)
    }

    func testLeftoverTempFileOfADeadCompactionIsRemovedOnOpen() throws {
        do {
            let file = try open()
            try file.append([bytes("a")], durability: .process)
        }
        try Data(repeating: 7, count: 4096).write(to: URL(fileURLWithPath: RecordFile.compactionPath(path)))
        XCTAssertEqual(try replayed(), ["a"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: RecordFile.compactionPath(path)))
    }
}
