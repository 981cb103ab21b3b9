import Foundation
import XCTest
@testable import SpeakerbridgeHost

/// The /proc reader behind the `process_*` metrics: the fields by their numbers, a command name
/// that holds spaces and ')', an unlimited open-files limit, and broken files refused with the file
/// and the field named. Then the real /proc/self of this test process.
final class ProcessStatsTests: XCTestCase {
    // Fields 14/15 utime/stime 250/50 ticks, 22 starttime 1000 ticks, 23 vsize, 24 rss 2048 pages.
    let stat = "4242 (speaker bridge) (x)) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 12 0 1000 734003200 2048 "
        + "18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 17 1 0 0 0 0 0\n"
    let systemStat = "cpu  1 2 3 4\nintr 5\nbtime 1700000000\nprocesses 99\n"
    let limits = """
        Limit                     Soft Limit           Hard Limit           Units
        Max cpu time              unlimited            unlimited            seconds
        Max open files            1024                 524288               files
        Max locked memory         8388608              8388608              bytes

        """

    func testFieldsAreReadByTheirNumbersAfterTheCommandName() throws {
        let s = try ProcessStats.parse(stat: stat, systemStat: systemStat, limits: limits, openFDs: 17,
                                       ticksPerSecond: 100, pageSize: 4096)
        XCTAssertEqual(s.cpuSeconds, 3.0, "(250 + 50) ticks at 100 per second")
        XCTAssertEqual(s.startTime, 1_700_000_010, "btime + 1000 ticks")
        XCTAssertEqual(s.residentBytes, 2048 * 4096)
        XCTAssertEqual(s.virtualBytes, 734_003_200)
        XCTAssertEqual(s.openFDs, 17)
        XCTAssertEqual(s.maxFDs, 1024, "the soft limit")
    }

    func testAnUnlimitedOpenFilesLimitIsNil() throws {
        let unlimited = limits.replacingOccurrences(of: "Max open files            1024", with: "Max open files            unlimited")
        let s = try ProcessStats.parse(stat: stat, systemStat: systemStat, limits: unlimited, openFDs: 3,
                                       ticksPerSecond: 100, pageSize: 4096)
        XCTAssertNil(s.maxFDs)
    }

    func testBrokenFilesAreRefusedWithTheFileAndField() {
        func problem(stat: String? = nil, systemStat: String? = nil, limits: String? = nil) -> String {
            do {
                _ = try ProcessStats.parse(stat: stat ?? self.stat, systemStat: systemStat ?? self.systemStat,
                                           limits: limits ?? self.limits, openFDs: 1, ticksPerSecond: 100, pageSize: 4096)
                return "accepted"
            } catch {
                return error.description
            }
        }
        XCTAssertEqual(problem(stat: "4242 speakerbridge S 1"), "/proc/self/stat: no ')' after the command name")
        XCTAssertEqual(problem(stat: "4242 (sb) S 1 2 3 4 5 6 7 8 9 10\n"), "/proc/self/stat: field 14 (utime) is missing or not a number")
        XCTAssertEqual(problem(stat: stat.replacingOccurrences(of: " 2048 ", with: " lots ")),
                       "/proc/self/stat: field 24 (rss) is missing or not a number")
        XCTAssertEqual(problem(systemStat: "cpu 1 2 3\n"), "/proc/stat: no btime line")
        XCTAssertEqual(problem(limits: "Max cpu time unlimited unlimited seconds\n"), "/proc/self/limits: no \"Max open files\" line")
        XCTAssertEqual(problem(limits: "Max open files            many    many   files\n"),
                       "/proc/self/limits: \"Max open files\" soft limit \"many\" is not a number")
    }

    func testThisProcessReadsPlausibly() throws {
        let s = try ProcessStats.current()
        XCTAssertGreaterThan(s.residentBytes, Double(1 << 20))
        XCTAssertGreaterThan(s.openFDs, 2)
        if let max = s.maxFDs { XCTAssertLessThanOrEqual(s.openFDs, max) }
        let now = Date().timeIntervalSince1970
        XCTAssertLessThan(s.startTime, now + 1)
        XCTAssertGreaterThan(s.startTime, now - 24 * 3600, "this test run started today")
        XCTAssertGreaterThan(s.cpuSeconds, 0)
    }
}
