import Foundation
import Logging
import XCTest

@testable import SpeakerbridgeHost

/// The memory of recent log lines behind the `log` request: 200 per level, merged in the order they
/// were logged, cut when too long; the handler that feeds it; the request's answer and validation.
final class LogLinesTests: XCTestCase {
    private func line(_ level: Logger.Level, _ message: String) -> LogLines.Line {
        LogLines.Line(at: Date(), level: level, label: "test", message: message)
    }

    func testEachLevelKeepsItsOwnLastLinesSoAChattyLevelCannotPushOutWarnings() {
        let lines = LogLines(perLevel: 200)
        lines.append(line(.warning, "w-early"))
        for i in 0..<1_000 { lines.append(line(.debug, "d\(i)")) }
        lines.append(line(.error, "e-late"))

        XCTAssertEqual(lines.last(200, atLeast: .warning).map(\.message), ["w-early", "e-late"])
        let debug = lines.last(200, atLeast: .debug).map(\.message)
        XCTAssertEqual(debug.count, 200)
        // The warning is older than the 200 debug lines kept, so it is not among the newest 200.
        XCTAssertEqual(debug.first, "d801")
        XCTAssertEqual(debug.last, "e-late")
        XCTAssertEqual(lines.last(3, atLeast: .trace).map(\.message), ["d998", "d999", "e-late"])
    }

    func testLevelsAreMergedInTheOrderTheyWereLoggedOldestFirst() {
        let lines = LogLines(perLevel: 5)
        let levels: [Logger.Level] = [.info, .warning, .info, .error, .notice, .critical, .info, .warning]
        for (i, level) in levels.enumerated() { lines.append(line(level, "\(i)")) }
        XCTAssertEqual(lines.last(100, atLeast: .info).map(\.message), ["0", "1", "2", "3", "4", "5", "6", "7"])
        XCTAssertEqual(lines.last(100, atLeast: .warning).map(\.message), ["1", "3", "5", "7"])
        XCTAssertEqual(lines.last(2, atLeast: .notice).map(\.message), ["5", "7"])
        XCTAssertEqual(lines.last(0, atLeast: .info), [])

        // Past its ring's size a level loses its oldest lines only.
        for i in 8..<20 { lines.append(line(.info, "\(i)")) }
        XCTAssertEqual(lines.last(100, atLeast: .info).map(\.message), ["1", "3", "4", "5", "7", "15", "16", "17", "18", "19"])
    }

    func testALongLineIsCutWithAnEllipsis() {
        let lines = LogLines()
        lines.append(line(.info, String(repeating: "x", count: 5_000)))
        lines.append(line(.info, String(repeating: "y", count: 2_000)))
        let kept = lines.last(2, atLeast: .info).map(\.message)
        XCTAssertEqual(kept[0].count, 2_000)
        XCTAssertTrue(kept[0].hasSuffix("x…"))
        XCTAssertEqual(kept[1], String(repeating: "y", count: 2_000), "a line of exactly 2,000 characters is whole")
    }

    func testTheHandlerKeepsLabelLevelAndMetadataAsTheStreamHandlerWritesThem() {
        let lines = LogLines()
        var logger = Logger(label: "speakerbridge") { label in LogLinesHandler(label: label, lines: lines, level: .info) }
        logger[metadataKey: "plugin"] = "tts"
        logger.debug("not kept: below the level")
        logger.warning("synthesis slow", metadata: ["ms": "812"])
        logger.info("plain")
        let kept = lines.last(10, atLeast: .trace)
        XCTAssertEqual(kept.map(\.message), ["ms=812 plugin=tts synthesis slow", "plugin=tts plain"])
        XCTAssertEqual(kept.map(\.level), [.warning, .info])
        XCTAssertEqual(kept.map(\.label), ["speakerbridge", "speakerbridge"])
        XCTAssertLessThan(abs(kept[0].at.timeIntervalSinceNow), 5)
    }

    // MARK: the log request

    private func ask(_ handler: LogRequestHandler, _ fields: [String: JSONValue]) async -> Result<JSONValue, BridgeRequestError> {
        do { return .success(try await handler.handle(BridgeRequest(name: "log", fields: fields))) }
        catch { return .failure(error) }
    }

    func testTheRequestAnswersTheNewestLinesAtALevelOldestFirst() async throws {
        let lines = LogLines()
        lines.append(LogLines.Line(at: Date(timeIntervalSince1970: 1_796_497_200.125), level: .warning, label: "speakerbridge",
                                   message: "intake: refused a message"))
        for i in 0..<5 { lines.append(line(.info, "info \(i)")) }
        let handler = LogRequestHandler(lines: lines)

        let warning = try await ask(handler, ["level": "warning", "transaction": "t"]).get()
        XCTAssertEqual(warning, ["level": "warning", "lines": [
            ["at": "2026-12-05T19:00:00.125Z", "level": "warning", "label": "speakerbridge", "message": "intake: refused a message"],
        ]])
        let info = try await ask(handler, ["limit": 2]).get()
        XCTAssertEqual(info["level"], "info", "info is the default level")
        XCTAssertEqual(info["lines"]?.arrayValue?.compactMap { $0["message"]?.stringValue }, ["info 3", "info 4"])
        let all = try await ask(handler, [:]).get()
        XCTAssertEqual(all["lines"]?.arrayValue?.count, 6, "the default limit is all that is kept (200)")
    }

    func testTheRequestRefusesUnknownLevelsLimitsOutOfRangeAndUnknownFields() async {
        let handler = LogRequestHandler(lines: LogLines())
        let cases: [([String: JSONValue], String)] = [
            (["level": "loud"], "unknown level \"loud\"; use one of trace, debug, info, notice, warning, error, critical"),
            (["level": 3], "unknown level 3; use one of trace, debug, info, notice, warning, error, critical"),
            (["limit": 0], "limit must be a whole number from 1 to 200, got 0"),
            (["limit": 201], "limit must be a whole number from 1 to 200, got 201"),
            (["limit": 2.5], "limit must be a whole number from 1 to 200, got 2.5"),
            (["limit": "10"], "limit must be a whole number from 1 to 200, got \"10\""),
            (["lines": 10], "unknown field 'lines'; the log request takes level and limit"),
        ]
        for (fields, expected) in cases {
            let result = await ask(handler, fields)
            guard case .failure(let error) = result else { XCTFail("\(fields) was accepted"); continue }
            XCTAssertEqual(error.message, expected)
        }
    }
}
