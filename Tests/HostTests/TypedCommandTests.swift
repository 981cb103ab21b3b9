import CommandFixtures
import Dispatch
@testable import SpeakerbridgeHost  // for CommandSignature.Parameter's memberwise init
import Synchronization
import XCTest

/// Typed plugin commands: the signature grammar, argument checking, and calls through libffi into
/// C fixtures that record what they received (Tests/CommandFixtures).
final class TypedCommandTests: XCTestCase {
    typealias P = CommandSignature.Parameter

    override func setUp() { fx_reset() }
    override func tearDown() { fx_reset() }

    // MARK: Grammar

    func testParsesEveryForm() throws {
        let sig = try CommandSignature.parse(
            "  speaker:str level:i32[0..100] ramp:bool=false\tgain:f64[-1.5..2.5]=0.25 big:i64=-3 count:u32[1..9]"
                + #" note:str? room:str=kitchen label:str="living room" empty:str="" flag:bool "#)
        XCTAssertEqual(sig.parameters, [
            P(name: "speaker", type: .str, range: nil, defaultValue: nil, optional: false),
            P(name: "level", type: .i32, range: 0...100, defaultValue: nil, optional: false),
            P(name: "ramp", type: .bool, range: nil, defaultValue: .bool(false), optional: true),
            P(name: "gain", type: .f64, range: -1.5...2.5, defaultValue: .number(0.25), optional: true),
            P(name: "big", type: .i64, range: nil, defaultValue: .number(-3), optional: true),
            P(name: "count", type: .u32, range: 1...9, defaultValue: nil, optional: false),
            P(name: "note", type: .str, range: nil, defaultValue: nil, optional: true),
            P(name: "room", type: .str, range: nil, defaultValue: .string("kitchen"), optional: true),
            P(name: "label", type: .str, range: nil, defaultValue: .string("living room"), optional: true),
            P(name: "empty", type: .str, range: nil, defaultValue: .string(""), optional: true),
            P(name: "flag", type: .bool, range: nil, defaultValue: nil, optional: false),
        ])
        XCTAssertEqual(try CommandSignature.parse("").parameters, [])
        XCTAssertEqual(try CommandSignature.parse(" \n ").parameters, [])
        XCTAssertEqual(try CommandSignature.parse("_x9:u32").parameters.map(\.name), ["_x9"])
    }

    func testDescriptionIsCanonicalAndRoundTrips() throws {
        let text = #"speaker:str level:i32[0..100] ramp:bool=false gain:f64[-1.5..2.5]=0.25 note:str? label:str="living room" e:str="""#
        let sig = try CommandSignature.parse(text)
        XCTAssertEqual(sig.description, text)
        XCTAssertEqual(try CommandSignature.parse(sig.description), sig)
        XCTAssertEqual(try CommandSignature.parse("x:f64[0..1.0]=1.0").description, "x:f64[0..1]=1")
    }

    func testEverySyntaxErrorIsPrecise() {
        let cases: [(String, String)] = [
            ("speaker", "parameter 1 'speaker': expected name:type"),
            ("speaker:str level:i3", "parameter 2 'level:i3': unknown type 'i3' (bool, i32, i64, u32, f64, str)"),
            ("level:", "parameter 1 'level:': missing type (bool, i32, i64, u32, f64, str)"),
            ("Level:i32", "parameter 1 'Level:i32': invalid name 'Level' (lowercase letters, digits and _, not starting with a digit)"),
            ("1st:i32", "parameter 1 '1st:i32': invalid name '1st' (lowercase letters, digits and _, not starting with a digit)"),
            (":i32", "parameter 1 ':i32': invalid name '' (lowercase letters, digits and _, not starting with a digit)"),
            ("a:i32 a:str", "parameter 2 'a:str': duplicate name 'a' (also parameter 1)"),
            ("x:i32!", "parameter 1 'x:i32!': unexpected '!' after the type (expected [low..high], =default or ?)"),
            ("x:bool[0..1]", "parameter 1 'x:bool[0..1]': a range is only for numeric types, not bool"),
            ("x:str[0..1]", "parameter 1 'x:str[0..1]': a range is only for numeric types, not str"),
            ("x:i32[0..100", "parameter 1 'x:i32[0..100': unterminated range (expected [low..high])"),
            ("x:i32[0-100]", "parameter 1 'x:i32[0-100]': range must be [low..high], got [0-100]"),
            ("x:i32[a..5]", "parameter 1 'x:i32[a..5]': range bound 'a' is not a number"),
            ("x:f64[nan..5]", "parameter 1 'x:f64[nan..5]': range bound 'nan' is not a number"),
            ("x:f64[0..0x10]", "parameter 1 'x:f64[0..0x10]': range bound '0x10' is not a number"),
            ("x:i32[5..1]", "parameter 1 'x:i32[5..1]': range low 5 is above high 1"),
            ("x:i32[0.5..10]", "parameter 1 'x:i32[0.5..10]': range bound 0.5 is not a whole number from -2147483648 to 2147483647 (i32)"),
            ("x:u32[-1..10]", "parameter 1 'x:u32[-1..10]': range bound -1 is not a whole number from 0 to 4294967295 (u32)"),
            ("x:i32[0..3000000000]", "parameter 1 'x:i32[0..3000000000]': range bound 3000000000 is not a whole number from -2147483648 to 2147483647 (i32)"),
            ("x:i32?", "parameter 1 'x:i32?': '?' is only for str (there is no NULL i32); give a default with '=' instead"),
            ("x:str?x", "parameter 1 'x:str?x': unexpected 'x' after '?'"),
            ("x:i32=", "parameter 1 'x:i32=': empty default after '='"),
            ("x:i32[0..10]=11", #"parameter 1 'x:i32[0..10]=11': bad default: "x" must be a whole number from 0 to 10, got 11"#),
            ("x:i32=1.5", #"parameter 1 'x:i32=1.5': bad default: "x" must be a whole number from -2147483648 to 2147483647, got 1.5"#),
            ("x:bool=yes", #"parameter 1 'x:bool=yes': bad default: "x" must be true or false, got "yes""#),
            ("x:f64=inf", #"parameter 1 'x:f64=inf': bad default: "x" must be a number, got "inf""#),
            (#"a:i32 x:str="abc"#, #"parameter 2 'x:str="abc': unterminated string"#),
            (#"x:str="a\qb""#, #"parameter 1 'x:str="a\qb"': default "a\qb" is not a valid JSON string"#),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try CommandSignature.parse(text), text) { error in
                XCTAssertEqual("\(error)", expected, text)
            }
        }
    }

    // MARK: Binding

    let volume = try! CommandSignature.parse("speaker:str level:i32[0..100] ramp:bool=false")
    let allTypes = try! CommandSignature.parse("flag:bool small:i32 big:i64 count:u32 gain:f64[-10..10] name:str note:str?")

    func testBindReturnsSignatureOrderWithDefaults() throws {
        XCTAssertEqual(try volume.bind(["level": 30, "speaker": "kitchen"]), [.str("kitchen"), .i32(30), .bool(false)])
        XCTAssertEqual(try volume.bind(["level": 30.0, "speaker": "kitchen", "ramp": true]), [.str("kitchen"), .i32(30), .bool(true)])
        // null counts as absent: the default applies, an optional str becomes NULL.
        XCTAssertEqual(try volume.bind(["level": 0, "speaker": "k", "ramp": .null]), [.str("k"), .i32(0), .bool(false)])
        let all: [String: JSONValue] = ["flag": false, "small": -2147483648, "big": 9007199254740991, "count": 4294967295, "gain": -0.5, "name": ""]
        XCTAssertEqual(try allTypes.bind(all), [.bool(false), .i32(.min), .i64(9007199254740991), .u32(.max), .f64(-0.5), .str(""), .str(nil)])
        var withNull = all
        withNull["note"] = .null
        XCTAssertEqual(try allTypes.bind(withNull).last, .str(nil))
        withNull["note"] = "hi"
        XCTAssertEqual(try allTypes.bind(withNull).last, .str("hi"))
        XCTAssertEqual(try CommandSignature.parse("").bind([:]), [])
    }

    func testEveryBindErrorIsPrecise() {
        let good: [String: JSONValue] = ["flag": true, "small": 1, "big": 1, "count": 1, "gain": 1, "name": "n"]
        func with(_ key: String, _ value: JSONValue) -> [String: JSONValue] { var a = good; a[key] = value; return a }
        let cases: [(CommandSignature, [String: JSONValue], String)] = [
            (volume, ["speaker": "k"], #"missing required argument "level""#),
            (volume, ["speaker": "k", "level": .null], #""level" is required, got null"#),
            (volume, ["speaker": "k", "lvl": 5], #"unknown argument "lvl" (did you mean "level"?); missing required argument "level""#),
            (volume, ["speaker": "k", "level": 5, "colour": "red"], #"unknown argument "colour" (expected: speaker, level, ramp)"#),
            (try! CommandSignature.parse(""), ["x": 1], #"unknown argument "x" (this command takes no arguments)"#),
            (volume, ["speaker": "k", "level": 150], #""level" must be a whole number from 0 to 100, got 150"#),
            (volume, ["speaker": "k", "level": -1], #""level" must be a whole number from 0 to 100, got -1"#),
            (volume, ["speaker": "k", "level": "loud"], #""level" must be a number, got "loud""#),
            (volume, ["speaker": "k", "level": "50"], #""level" must be a number, got "50""#),
            (volume, ["speaker": "k", "level": 3.5], #""level" must be a whole number from 0 to 100, got 3.5"#),
            (volume, ["speaker": "k", "level": 5, "ramp": "yes"], #""ramp" must be true or false, got "yes""#),
            (volume, ["speaker": "k", "level": 5, "ramp": 1], #""ramp" must be true or false, got 1"#),
            (volume, ["speaker": 5, "level": 5], #""speaker" must be a string, got 5"#),
            (volume, ["speaker": ["a"], "level": 5], #""speaker" must be a string, got ["a"]"#),
            (volume, ["speaker": "a\u{0}b", "level": 5], #""speaker" must not contain a NUL character"#),
            (allTypes, with("small", 2147483648), #""small" must be a whole number from -2147483648 to 2147483647, got 2147483648"#),
            (allTypes, with("small", -2147483649), #""small" must be a whole number from -2147483648 to 2147483647, got -2147483649"#),
            (allTypes, with("count", -1), #""count" must be a whole number from 0 to 4294967295, got -1"#),
            (allTypes, with("count", 4294967296), #""count" must be a whole number from 0 to 4294967295, got 4294967296"#),
            (allTypes, with("big", 9007199254740992), #""big" must be a whole number from -9007199254740991 to 9007199254740991, got 9007199254740992"#),
            (allTypes, with("big", .number(1e300)), #""big" must be a whole number from -9007199254740991 to 9007199254740991, got 1e+300"#),
            (allTypes, with("gain", .number(.infinity)), #""gain" must be a finite number, got inf"#),
            (allTypes, with("gain", .number(.nan)), #""gain" must be a finite number, got nan"#),
            (allTypes, with("gain", 10.5), #""gain" must be a number from -10 to 10, got 10.5"#),
            (allTypes, with("gain", "1"), #""gain" must be a number, got "1""#),
            (allTypes, with("note", 3), #""note" must be a string, got 3"#),
            // Every problem at once, unknown arguments first, then in signature order.
            (allTypes, ["flag": "no", "small": 1.5, "big": 1, "count": 1, "gain": 1, "zz": 1],
             #"unknown argument "zz" (expected: flag, small, big, count, gain, name, note); "flag" must be true or false, got "no"; "#
                + #""small" must be a whole number from -2147483648 to 2147483647, got 1.5; missing required argument "name""#),
        ]
        for (sig, arguments, expected) in cases {
            XCTAssertThrowsError(try sig.bind(arguments), expected) { error in
                XCTAssertEqual("\(error)", expected)
            }
        }
    }

    // MARK: Calls through libffi

    private func invoker(_ name: String) throws -> CommandInvoker {
        // The host's path: signature and function pointer from the plugin's sb_command.
        let command = try XCTUnwrap(fx_command(name)).pointee
        let function = try XCTUnwrap(command.function)
        return try CommandInvoker(signature: CommandSignature.parse(String(cString: command.signature)),
                                  function: unsafeBitCast(function, to: UnsafeRawPointer.self))
    }

    private var last: fx_record { fx_last().pointee }
    private func string(_ p: UnsafeMutablePointer<CChar>?) -> String? { p.map { String(cString: $0) } }

    func testVolumeReachesCWithEveryValue() throws {
        let volume = try invoker("volume")
        let instance = UnsafeMutableRawPointer(bitPattern: 0xC0FFEE)
        let (status, reply) = try volume.call(instance: instance, json: ["speaker": "kitchen", "level": 42, "ramp": true], replyCapacity: 256)
        XCTAssertEqual(status, 0)
        XCTAssertEqual(reply, #"{"speaker":"kitchen","level":42,"ramp":true}"#)
        XCTAssertEqual(String(cString: try XCTUnwrap(last.function)), "fx_volume")
        XCTAssertEqual(UnsafeMutableRawPointer(last.instance), instance)
        XCTAssertEqual(last.reply_size, 256)
        XCTAssertEqual(string(last.str), "kitchen")
        XCTAssertEqual(last.i32, 42)
        XCTAssertEqual(last.flag, true)
        // The default reaches C too, and the invoker can be called again.
        XCTAssertEqual(try volume.call(instance: nil, json: ["speaker": "hall", "level": 0]).reply,
                       #"{"speaker":"hall","level":0,"ramp":false}"#)
        XCTAssertNil(last.instance)
        XCTAssertEqual(last.reply_size, 4096)
        XCTAssertEqual(last.calls, 2)
    }

    func testEveryTypeAtItsLimits() throws {
        let all = try invoker("all_types")
        let arguments: [BoundArgument] = [.bool(true), .i32(.min), .i64(-9_007_199_254_740_991), .u32(.max), .f64(0.1), .str("Küche ☕"), .str(nil)]
        let (status, reply) = all.call(instance: nil, arguments: arguments)
        XCTAssertEqual(status, 0)
        XCTAssertEqual(reply, "1 -2147483648 -9007199254740991 4294967295 0.10000000000000001 Küche ☕ (null)")
        XCTAssertEqual(last.flag, true)
        XCTAssertEqual(last.i32, .min)
        XCTAssertEqual(last.i64, -9_007_199_254_740_991)
        XCTAssertEqual(last.u32, .max)
        XCTAssertEqual(last.f64, 0.1)
        XCTAssertEqual(string(last.str), "Küche ☕")
        XCTAssertNil(last.str2, "an absent optional str arrives as NULL")

        _ = all.call(instance: nil, arguments: [.bool(false), .i32(.max), .i64(Int64.max), .u32(0), .f64(-0.0), .str(""), .str("note")])
        XCTAssertEqual(last.flag, false)
        XCTAssertEqual(last.i32, .max)
        XCTAssertEqual(last.i64, .max)  // values the JSON path refuses still pass the C boundary intact
        XCTAssertEqual(last.u32, 0)
        XCTAssertEqual(last.f64.sign, .minus)
        XCTAssertEqual(string(last.str), "")
        XCTAssertEqual(string(last.str2), "note")
    }

    func testDefaultsReachC() throws {
        let (status, reply) = try invoker("all_defaults").call(instance: nil, json: [:])
        XCTAssertEqual(status, 0)
        XCTAssertEqual(reply, "1 -7 -9007199254740991 4294967295 0.25 living room (null)")
        XCTAssertEqual(string(last.str), "living room")
        XCTAssertNil(last.str2)
    }

    func testArgumentsBeyondTheRegistersGoOnTheStack() throws {
        var json: [String: JSONValue] = ["late_flag": true, "late_u": 4_000_000_000, "late_i": -123, "late_s": "tail"]
        for i in 0..<10 { json["d\(i)"] = .number(Double(i) + 0.5) }
        for i in 0..<4 { json["n\(i)"] = .number(Double(-1000 * (i + 1))) }
        let (status, reply) = try invoker("spill").call(instance: nil, json: json)
        XCTAssertEqual(status, 0)
        XCTAssertEqual(reply, "ok")
        XCTAssertEqual(withUnsafeBytes(of: last.doubles) { Array($0.bindMemory(to: Double.self)) }, (0..<10).map { Double($0) + 0.5 })
        XCTAssertEqual(withUnsafeBytes(of: last.ints) { Array($0.bindMemory(to: Int64.self)) }, [-1000, -2000, -3000, -4000])
        XCTAssertEqual(last.flag, true)
        XCTAssertEqual(last.u32, 4_000_000_000)
        XCTAssertEqual(last.i32, -123)
        XCTAssertEqual(string(last.str), "tail")
    }

    func testNegativeStatusAndReasonComeBack() throws {
        let (status, reply) = try invoker("fail").call(instance: nil, json: [:])
        XCTAssertEqual(status, -3)  // SB_ERR_FAILED, sign intact through libffi's widened return
        XCTAssertEqual(reply, "speaker unreachable")
    }

    func testUnterminatedReplyIsCutAtCapacityMinusOne() throws {
        let unterminated = try invoker("unterminated")
        XCTAssertEqual(unterminated.call(instance: nil, arguments: [], replyCapacity: 64).reply, String(repeating: "x", count: 63))
        XCTAssertEqual(last.reply_size, 64)
        XCTAssertEqual(unterminated.call(instance: nil, arguments: [], replyCapacity: 1).reply, "")
        // A reply longer than the buffer is truncated by the plugin's snprintf, not overrun.
        XCTAssertEqual(try invoker("volume").call(instance: nil, json: ["speaker": "k", "level": 1], replyCapacity: 8).reply, #"{"speak"#)
    }

    func testBindFailuresNeverReachTheFunction() throws {
        let volume = try invoker("volume")
        let bad: [[String: JSONValue]] = [
            [:], ["speaker": "k"], ["speaker": "k", "level": 101], ["speaker": "k", "level": "5"],
            ["speaker": "k", "level": 5, "ramp": "true"], ["speaker": "k", "level": 5, "extra": 1], ["speaker": 1, "level": 5],
        ]
        for arguments in bad {
            XCTAssertThrowsError(try volume.call(instance: nil, json: arguments)) { XCTAssertTrue($0 is ArgumentError) }
        }
        XCTAssertEqual(last.calls, 0, "a rejected request must not reach the plugin")
        _ = try volume.call(instance: nil, json: ["speaker": "k", "level": 5])
        XCTAssertEqual(last.calls, 1, "the counter does count real calls")
    }

    func testDirectLoopFixtureForBenchmarks() throws {
        XCTAssertEqual(fx_direct_loop(1000), 1000)
        XCTAssertEqual(last.calls, 1000)
        let bench = try invoker("bench_volume")
        let arguments = try bench.signature.bind(["speaker": "kitchen", "level": 50])
        for _ in 0..<1000 { XCTAssertEqual(bench.call(instance: nil, arguments: arguments).status, 0) }
        XCTAssertEqual(last.calls, 2000)
        XCTAssertEqual(last.i32, 50)
    }

    func testOneInvokerFromManyThreads() throws {
        // The invoker is documented safe to share: calls only read the prepared cif, and each has
        // its own argument slots, strings and reply buffer.
        let echo = try invoker("echo")
        let mismatches = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 2000) { i in
            let reply = echo.call(instance: nil, arguments: [.str("t\(i)"), .i32(Int32(i))]).reply
            if reply != "t\(i):\(i)" { mismatches.add(1, ordering: .relaxed) }
        }
        XCTAssertEqual(mismatches.load(ordering: .relaxed), 0)
    }
}
