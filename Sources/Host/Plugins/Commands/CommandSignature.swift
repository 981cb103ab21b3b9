/// The parameter list of a plugin's typed command, parsed from the `signature` string of an
/// `sb_command` (grammar in speakerbridge_plugin.h, "Typed commands"). The host checks every
/// request against it before calling the plugin, so a plugin never sees a wrong argument.
public struct CommandSignature: Sendable, Equatable, CustomStringConvertible {
    public enum ParameterType: String, Sendable, CaseIterable { case bool, i32, i64, u32, f64, str }

    public struct Parameter: Sendable, Equatable, CustomStringConvertible {
        public let name: String
        public let type: ParameterType
        public let range: ClosedRange<Double>?   // numeric only
        public let defaultValue: JSONValue?      // from "=literal"
        public let optional: Bool                // "?" (str only) or has a default

        public var description: String {
            var s = "\(name):\(type.rawValue)"
            if let r = range { s += "[\(formatNumber(r.lowerBound))..\(formatNumber(r.upperBound))]" }
            if let d = defaultValue {
                // A str default is written bare unless re-parsing would split or unquote it.
                if case .string(let t) = d, !t.isEmpty, !t.contains(where: { $0 == "\"" || $0.isWhitespace }) {
                    s += "=" + t
                } else {
                    s += "=" + d.serialized()
                }
            } else if optional { s += "?" }
            return s
        }
    }

    public let parameters: [Parameter]

    public struct SyntaxError: Error, Sendable, CustomStringConvertible { public let description: String }

    /// The canonical text; `parse(description)` gives back an equal signature.
    public var description: String { parameters.map(\.description).joined(separator: " ") }

    // MARK: Parsing

    public static func parse(_ text: String) throws(SyntaxError) -> CommandSignature {
        var parameters: [Parameter] = []
        for (index, token) in try tokens(text).enumerated() {
            func fail(_ why: String) -> SyntaxError { SyntaxError(description: "parameter \(index + 1) '\(token)': \(why)") }
            let p = try parameter(token, fail: fail)
            if let earlier = parameters.firstIndex(where: { $0.name == p.name }) {
                throw fail("duplicate name '\(p.name)' (also parameter \(earlier + 1))")
            }
            parameters.append(p)
        }
        return CommandSignature(parameters: parameters)
    }

    /// Splits on whitespace, except inside a "quoted" default (a str default may contain spaces).
    private static func tokens(_ text: String) throws(SyntaxError) -> [String] {
        var result: [String] = [], current = "", inQuote = false, escaped = false
        for c in text {
            if inQuote {
                current.append(c)
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inQuote = false }
            } else if c.isWhitespace {
                if !current.isEmpty { result.append(current); current = "" }
            } else {
                current.append(c)
                if c == "\"" { inQuote = true }
            }
        }
        if inQuote {
            throw SyntaxError(description: "parameter \(result.count + 1) '\(current)': unterminated string")
        }
        if !current.isEmpty { result.append(current) }
        return result
    }

    private static func parameter(_ token: String, fail: (String) -> SyntaxError) throws(SyntaxError) -> Parameter {
        guard let colon = token.firstIndex(of: ":") else { throw fail("expected name:type") }
        let name = String(token[..<colon])
        guard isValidName(name) else {
            throw fail("invalid name '\(name)' (lowercase letters, digits and _, not starting with a digit)")
        }
        var rest = token[token.index(after: colon)...]
        let typeWord = rest.prefix(while: { $0.isLetter || $0.isNumber })
        rest = rest.dropFirst(typeWord.count)
        let allTypes = ParameterType.allCases.map(\.rawValue).joined(separator: ", ")
        guard let type = ParameterType(rawValue: String(typeWord)) else {
            throw fail(typeWord.isEmpty ? "missing type (\(allTypes))" : "unknown type '\(typeWord)' (\(allTypes))")
        }

        var range: ClosedRange<Double>?
        if rest.first == "[" {
            guard let close = rest.firstIndex(of: "]") else { throw fail("unterminated range (expected [low..high])") }
            range = try parseRange(rest[rest.index(after: rest.startIndex)..<close], type: type, fail: fail)
            rest = rest[rest.index(after: close)...]
        }

        var defaultValue: JSONValue?, optional = false
        if rest.first == "?" {
            guard type == .str else {
                throw fail("'?' is only for str (there is no NULL \(type.rawValue)); give a default with '=' instead")
            }
            guard rest.count == 1 else { throw fail("unexpected '\(rest.dropFirst())' after '?'") }
            optional = true
        } else if rest.first == "=" {
            let literal = rest.dropFirst()
            guard !literal.isEmpty else { throw fail("empty default after '='") }
            guard let value = defaultLiteral(literal, type: type) else {
                throw fail("default \(literal) is not a valid JSON string")
            }
            let probe = Parameter(name: name, type: type, range: range, defaultValue: nil, optional: false)
            if case .failure(let problem) = probe.convert(value) { throw fail("bad default: \(problem.text)") }
            defaultValue = value
            optional = true
        } else if !rest.isEmpty {
            throw fail("unexpected '\(rest)' after the type (expected [low..high], =default or ?)")
        }
        return Parameter(name: name, type: type, range: range, defaultValue: defaultValue, optional: optional)
    }

    private static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || ("a"..."z").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ("a"..."z").contains($0) || ("0"..."9").contains($0) }
    }

    private static func parseRange(_ body: Substring, type: ParameterType, fail: (String) -> SyntaxError) throws(SyntaxError) -> ClosedRange<Double> {
        guard type != .bool && type != .str else { throw fail("a range is only for numeric types, not \(type.rawValue)") }
        let parts = body.split(separator: "..", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw fail("range must be [low..high], got [\(body)]") }
        guard let low = parseNumber(parts[0]) else { throw fail("range bound '\(parts[0])' is not a number") }
        guard let high = parseNumber(parts[1]) else { throw fail("range bound '\(parts[1])' is not a number") }
        guard low <= high else { throw fail("range low \(formatNumber(low)) is above high \(formatNumber(high))") }
        if let limits = type.integerLimits {
            for bound in [low, high] where bound.rounded() != bound || !limits.contains(bound) {
                throw fail("range bound \(formatNumber(bound)) is not a whole number from \(formatNumber(limits.lowerBound)) to \(formatNumber(limits.upperBound)) (\(type.rawValue))")
            }
        }
        return low...high
    }

    /// A default's text as the JSON value a request would carry; type mismatches are left for
    /// `convert` to report, so a default is checked by exactly the rules a request is. A str default
    /// is a bare word or a JSON string ("two words", "tab\t"); nil for a broken JSON string.
    private static func defaultLiteral(_ text: Substring, type: ParameterType) -> JSONValue? {
        switch type {
        case .bool: return text == "true" ? .bool(true) : text == "false" ? .bool(false) : .string(String(text))
        case .i32, .i64, .u32, .f64: return parseNumber(text).map(JSONValue.number) ?? .string(String(text))
        case .str:
            guard text.first == "\"" else { return .string(String(text)) }
            guard let v = try? JSONValue.parse(Array(text.utf8)), case .string = v else { return nil }
            return v
        }
    }

    /// JSON number syntax only: Swift's Double("nan"), Double("0x1p3"), Double("inf") are not numbers here.
    private static func parseNumber(_ text: Substring) -> Double? {
        guard let first = text.first, first == "-" || first.isASCII && first.isNumber,
              text.allSatisfy({ $0.isASCII && ($0.isNumber || "+-.eE".contains($0)) }),
              let d = Double(text), d.isFinite else { return nil }
        return d
    }

    // MARK: Binding

    /// Checks JSON arguments; every problem is reported (joined with "; "), none silently fixed:
    /// no string-to-number conversion, no rounding, no clamping. `null` counts as absent. Returns
    /// the values in signature order with defaults filled in.
    public func bind(_ arguments: [String: JSONValue]) throws(ArgumentError) -> [BoundArgument] {
        var problems: [String] = []
        for key in arguments.keys.sorted() where !parameters.contains(where: { $0.name == key }) {
            problems.append("unknown argument \(quoted(key))" + suggestion(for: key))
        }
        var bound: [BoundArgument] = []
        for p in parameters {
            let given = arguments[p.name].flatMap { $0 == .null ? nil : $0 }
            guard let value = given ?? p.defaultValue else {
                if p.optional { bound.append(.str(nil)) }  // only a "?" str is optional without a default
                else if arguments[p.name] == .null { problems.append("\(quoted(p.name)) is required, got null") }
                else { problems.append("missing required argument \(quoted(p.name))") }
                continue
            }
            switch p.convert(value) {
            case .success(let v): bound.append(v)
            case .failure(let problem): problems.append(problem.text)
            }
        }
        guard problems.isEmpty else { throw ArgumentError(description: problems.joined(separator: "; ")) }
        return bound
    }

    private func suggestion(for key: String) -> String {
        guard !parameters.isEmpty else { return " (this command takes no arguments)" }
        let scored = parameters.map { (name: $0.name, distance: editDistance(key, $0.name)) }
        if let best = scored.min(by: { $0.distance < $1.distance }), best.distance <= 2, best.distance < best.name.count {
            return " (did you mean \(quoted(best.name))?)"
        }
        return " (expected: \(parameters.map(\.name).joined(separator: ", ")))"
    }
}

public struct ArgumentError: Error, Sendable, CustomStringConvertible { public let description: String }

/// One checked argument, in the C type the plugin receives.
public enum BoundArgument: Sendable, Equatable { case bool(Bool), i32(Int32), i64(Int64), u32(UInt32), f64(Double), str(String?) }

extension CommandSignature.ParameterType {
    /// The whole numbers a JSON value may carry for this type. i64 stops at ±(2^53 − 1): JSON
    /// numbers arrive as Double, and beyond that a value may already have been rounded (…993
    /// becomes …992) — refusing is better than passing a silently different number.
    var integerLimits: ClosedRange<Double>? {
        switch self {
        case .i32: Double(Int32.min)...Double(Int32.max)
        case .u32: 0...Double(UInt32.max)
        case .i64: -9_007_199_254_740_991...9_007_199_254_740_991
        case .bool, .f64, .str: nil
        }
    }
}

extension CommandSignature.Parameter {
    struct Problem: Error { let text: String }

    /// One JSON value to the C type, or the precise reason why not.
    func convert(_ value: JSONValue) -> Result<BoundArgument, Problem> {
        var q: String { quoted(name) }  // only built for an error: it goes through JSONEncoder
        func fail(_ s: String) -> Result<BoundArgument, Problem> { .failure(Problem(text: s)) }
        switch type {
        case .bool:
            guard case .bool(let b) = value else { return fail("\(q) must be true or false, got \(show(value))") }
            return .success(.bool(b))
        case .str:
            guard case .string(let s) = value else { return fail("\(q) must be a string, got \(show(value))") }
            // C sees a string up to its first NUL: "a\u0000b" would silently arrive as "a".
            guard !s.utf8.contains(0) else { return fail("\(q) must not contain a NUL character") }
            return .success(.str(s))
        case .f64:
            guard case .number(let d) = value else { return fail("\(q) must be a number, got \(show(value))") }
            guard d.isFinite else { return fail("\(q) must be a finite number, got \(show(value))") }
            if let r = range, !r.contains(d) {
                return fail("\(q) must be a number from \(formatNumber(r.lowerBound)) to \(formatNumber(r.upperBound)), got \(show(value))")
            }
            return .success(.f64(d))
        case .i32, .i64, .u32:
            guard case .number(let d) = value else { return fail("\(q) must be a number, got \(show(value))") }
            let limits = type.integerLimits!
            let allowed = range.map { max($0.lowerBound, limits.lowerBound)...min($0.upperBound, limits.upperBound) } ?? limits
            guard d.isFinite, d.rounded() == d, allowed.contains(d) else {
                return fail("\(q) must be a whole number from \(formatNumber(allowed.lowerBound)) to \(formatNumber(allowed.upperBound)), got \(show(value))")
            }
            switch type {
            case .i32: return .success(.i32(Int32(d)))
            case .u32: return .success(.u32(UInt32(d)))
            default: return .success(.i64(Int64(d)))
            }
        }
    }
}

// MARK: Text helpers

private func quoted(_ s: String) -> String { JSONValue.string(s).serialized() }

/// 100, not 100.0; 0.5 stays 0.5.
private func formatNumber(_ d: Double) -> String {
    d.rounded() == d && abs(d) < 1e16 ? String(Int64(d)) : String(d)
}

/// A value as the user wrote it, shortened so one huge argument cannot flood the error text.
private func show(_ v: JSONValue) -> String {
    if case .number(let d) = v { return d.isNaN ? "nan" : d.isInfinite ? (d < 0 ? "-inf" : "inf") : formatNumber(d) }
    let s = v.serialized()
    return s.count > 60 ? String(s.prefix(57)) + "…" : s
}

/// Levenshtein distance, one row at a time.
private func editDistance(_ a: String, _ b: String) -> Int {
    let b = Array(b)
    var row = Array(0...b.count)
    for (i, ca) in a.enumerated() {
        var diagonal = row[0]
        row[0] = i + 1
        for (j, cb) in b.enumerated() {
            let above = row[j + 1]
            row[j + 1] = min(above + 1, row[j] + 1, diagonal + (ca == cb ? 0 : 1))
            diagonal = above
        }
    }
    return row[b.count]
}
