import Foundation
import XCTest
@testable import SpeakerbridgeHost

/// `admin.token_file` and the bind rule: a token comes from a file, at least 16 characters, and a
/// bind beyond loopback needs one.
final class AdminTokenConfigTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("admintoken-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func write(_ contents: String, name: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try contents.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    private func problems(_ yaml: String? = nil, env: [String: String] = [:], flags: [String: String] = [:]) throws -> [ConfigProblem] {
        ConfigLoader.check(file: try yaml.map { try write($0, name: "config.yaml") }, environment: env, flags: flags)
    }

    private func load(_ yaml: String? = nil, env: [String: String] = [:], flags: [String: String] = [:]) throws -> Configuration {
        try ConfigLoader.load(file: try yaml.map { try write($0, name: "config.yaml") }, environment: env, flags: flags)
    }

    func testTheTokenFileIsReadTrimmedAndRedacted() throws {
        let path = try write("  0123456789abcdef0123\n\n", name: "token")
        for config in [try load("admin:\n  token_file: \(path)\n"),
                       try load(env: ["SPEAKERBRIDGE_ADMIN_TOKEN_FILE": path]),
                       try load(flags: ["admin.token_file": path])] {
            XCTAssertEqual(config.admin.token, Secret("0123456789abcdef0123"))
            XCTAssertEqual(config.admin.tokenFile, path)
            let lines = ConfigLoader.describe(config)
            XCTAssertTrue(lines.contains("admin.token_file = \(path)"), "\(lines)")
            XCTAssertTrue(lines.contains("admin.token = <redacted>"), "\(lines)")
            XCTAssertFalse(lines.joined().contains("0123456789abcdef0123"))
        }
        XCTAssertTrue(ConfigLoader.describe(Configuration()).contains("admin.token = (not set)"))
    }

    func testAShortEmptyOrMissingTokenFileIsAProblemNamingTheKeyAndTheFile() throws {
        let short = try write("0123456789\n", name: "short")
        let found = try problems("admin:\n  token_file: \(short)\n")
        XCTAssertEqual(found.map(\.key), ["admin.token_file"])
        XCTAssertEqual(found.map(\.line), [2])
        XCTAssertTrue(found[0].message.contains("\(short) holds a token of 10 characters"), found[0].message)
        XCTAssertTrue(found[0].message.contains("at least 16 characters"), found[0].message)
        XCTAssertFalse(found[0].description.contains("0123456789\n"))

        let blank = try write(" \n", name: "blank")
        XCTAssertTrue(try problems(flags: ["admin.token_file": blank]).first?.message.contains("holds no token") == true)
        XCTAssertEqual(try problems(flags: ["admin.token_file": "/nope/token"]).map(\.message), ["file not found: /nope/token"])
        XCTAssertEqual(try problems(flags: ["admin.token_file": directory.path]).map(\.key), ["admin.token_file"])
    }

    func testAnInlineTokenIsRefusedInEveryLayer() throws {
        let inline = "0123456789abcdef0123"
        let found = try problems("admin:\n  token: \(inline)\n") + problems(env: ["SPEAKERBRIDGE_ADMIN_TOKEN": inline])
            + problems(flags: ["admin.token": inline])
        XCTAssertEqual(found.map(\.key), ["admin.token", "SPEAKERBRIDGE_ADMIN_TOKEN", "admin.token"])
        XCTAssertEqual(found[0].line, 2)
        for problem in found {
            XCTAssertTrue(problem.message.contains("admin.token_file"), problem.message)
            XCTAssertFalse(problem.description.contains(inline))
        }
        // Never offered as a did-you-mean.
        XCTAssertFalse(try problems(flags: ["admin.tokn": "x"]).first?.message.contains("admin.token?") == true)
    }

    func testABindBeyondLoopbackNeedsAToken() throws {
        for bind in ["0.0.0.0", "::", "192.168.1.2", "speakerbridge.lan", "127.0.0.1.example.com"] {
            let found = try problems(flags: ["admin.bind": bind])
            XCTAssertEqual(found.map(\.key), ["admin.bind"], bind)
            let message = found.first?.description ?? ""
            XCTAssertTrue(message.hasPrefix("admin.bind (command line): is \(bind), not loopback"), message)
            XCTAssertTrue(message.contains("set admin.token_file"), message)
            XCTAssertTrue(message.contains("openssl rand -hex 24"), message)
        }
        let inFile = try problems("admin:\n  port: 0\n  bind: 0.0.0.0\n")
        XCTAssertEqual(inFile.map(\.line), [3])
        for bind in ["127.0.0.1", "127.3.4.5", "::1", "localhost", "LOCALHOST", "off"] {
            XCTAssertEqual(try problems(flags: ["admin.bind": bind]), [], bind)
        }
        let token = try write("0123456789abcdef", name: "token")
        XCTAssertEqual(try load(flags: ["admin.bind": "0.0.0.0", "admin.token_file": token]).admin.bind, "0.0.0.0")
        // A refused token file is the one problem said, not the bind too.
        let short = try write("short", name: "short")
        XCTAssertEqual(try problems(flags: ["admin.bind": "0.0.0.0", "admin.token_file": short]).map(\.key), ["admin.token_file"])
    }

    func testLoopbackNames() {
        for name in ["127.0.0.1", "127.255.0.9", "::1", "[::1]", "0:0:0:0:0:0:0:1", "localhost", "LocalHost"] {
            XCTAssertTrue(LoopbackName.contains(name), name)
        }
        for name in ["0.0.0.0", "::", "", "128.0.0.1", "127.1", "localhost.example", "127.0.0.1.nip.io", "::2", "[::1"] {
            XCTAssertFalse(LoopbackName.contains(name), name)
        }
        for header in ["127.0.0.1", "127.0.0.1:8180", "localhost:1", "[::1]:8180", "[::1]"] {
            XCTAssertTrue(LoopbackName.containsHost(ofHeader: header), header)
        }
        for header in ["evil.example", "evil.example:8180", "127.0.0.1:x", "127.0.0.1.evil.example:80", "[::1]x",
                       "[::1]:80x", ":8180", "localhost:80:80", "[::2]:8180"] {
            XCTAssertFalse(LoopbackName.containsHost(ofHeader: header), header)
        }
    }
}
