import Foundation

/// A strict reader of the Prometheus text exposition format (0.0.4), for checking `/metrics`:
/// anything a Prometheus server would reject, or that breaks the format's rules, is an error
/// naming the line — not skipped.
///
/// Checked: every line ends in "\n"; `# TYPE` names a known type, once per family, before the
/// family's samples; `# HELP` at most once; metric and label names are legal; label values are
/// quoted with only the three escapes; values are floats (`+Inf`, `-Inf`, `NaN` included); no
/// series twice; a family's samples are together; a histogram has `_bucket` series with `le`
/// (non-decreasing, ending in `+Inf`), `_sum` and `_count` equal to the `+Inf` bucket; counters
/// are not negative.
struct PrometheusText {
    struct Sample: Equatable {
        let name: String
        let labels: [String: String]
        let value: Double
    }

    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    private(set) var types: [String: String] = [:]
    /// Families with a `# HELP` line.
    private(set) var helped: Set<String> = []
    private(set) var samples: [Sample] = []

    /// The value of the series `name` with exactly `labels`; nil when absent.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    /// Every series of `name`, whatever their labels.
    func series(_ name: String) -> [Sample] { samples.filter { $0.name == name } }

    init(_ text: String) throws {
        guard text.isEmpty || text.hasSuffix("\n") else { throw Invalid(description: "the text does not end with a newline") }
        var seen: Set<String> = []
        var finishedFamilies: Set<String> = []
        var currentFamily: String?
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().enumerated() {
            let where_ = "line \(index + 1) \(String(line).debugDescription)"
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
                guard parts.count >= 3, parts[0] == "#", ["TYPE", "HELP"].contains(parts[1]) else { continue }  // a comment
                let name = String(parts[2])
                guard Self.isMetricName(name) else { throw Invalid(description: "\(where_): bad metric name") }
                if parts[1] == "TYPE" {
                    guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else {
                        throw Invalid(description: "\(where_): unknown type")
                    }
                    guard types[name] == nil else { throw Invalid(description: "\(where_): a second TYPE for \(name)") }
                    guard !samples.contains(where: { family(of: $0.name) == name }) else {
                        throw Invalid(description: "\(where_): TYPE after samples of \(name)")
                    }
                    types[name] = String(parts[3])
                } else {
                    guard helped.insert(name).inserted else { throw Invalid(description: "\(where_): a second HELP for \(name)") }
                }
                continue
            }
            let sample = try Self.sample(line, where_)
            let owner = family(of: sample.name)
            if owner != currentFamily {
                if let currentFamily { finishedFamilies.insert(currentFamily) }
                guard !finishedFamilies.contains(owner) else { throw Invalid(description: "\(where_): samples of \(owner) are not together") }
                currentFamily = owner
            }
            let key = sample.name + "{" + sample.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") + "}"
            guard seen.insert(key).inserted else { throw Invalid(description: "\(where_): the series \(key) twice") }
            if types[owner] == "counter", sample.value < 0 { throw Invalid(description: "\(where_): a negative counter") }
            samples.append(sample)
        }
        try checkHistograms()
    }

    /// The family a sample belongs to: a histogram's `_bucket`, `_sum` and `_count` are its own.
    func family(of name: String) -> String {
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            if types[base] == "histogram" || types[base] == "summary" { return base }
        }
        return name
    }

    private func checkHistograms() throws {
        for (name, type) in types where type == "histogram" {
            var byLabels: [[String: String]: [(le: Double, count: Double)]] = [:]
            for s in series(name + "_bucket") {
                guard let le = s.labels["le"], let bound = Self.float(le) else { throw Invalid(description: "\(name)_bucket without a numeric le") }
                var rest = s.labels
                rest["le"] = nil
                byLabels[rest, default: []].append((bound, s.value))
            }
            guard !byLabels.isEmpty else { throw Invalid(description: "histogram \(name) has no buckets") }
            for (labels, buckets) in byLabels {
                guard buckets.map(\.le) == buckets.map(\.le).sorted(), buckets.last?.le == .infinity else {
                    throw Invalid(description: "\(name) \(labels): buckets out of order or no +Inf bucket")
                }
                guard buckets.map(\.count) == buckets.map(\.count).sorted() else {
                    throw Invalid(description: "\(name) \(labels): bucket counts go down")
                }
                guard let count = value(name + "_count", labels), value(name + "_sum", labels) != nil else {
                    throw Invalid(description: "\(name) \(labels): no _count or _sum")
                }
                guard count == buckets.last?.count else { throw Invalid(description: "\(name) \(labels): _count is not the +Inf bucket") }
            }
        }
    }

    private static func sample(_ line: Substring, _ where_: String) throws -> Sample {
        var rest = line[...]
        let name = String(rest.prefix { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") })
        guard isMetricName(name) else { throw Invalid(description: "\(where_): bad metric name") }
        rest = rest.dropFirst(name.count)
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            while rest.first != "}" {
                let label = String(rest.prefix { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
                guard isLabelName(label) else { throw Invalid(description: "\(where_): bad label name") }
                rest = rest.dropFirst(label.count)
                guard rest.hasPrefix("=\"") else { throw Invalid(description: "\(where_): label \(label) without =\"") }
                rest = rest.dropFirst(2)
                var value = ""
                while true {
                    guard let c = rest.first else { throw Invalid(description: "\(where_): unterminated label value") }
                    rest = rest.dropFirst()
                    if c == "\"" { break }
                    if c == "\\" {
                        switch rest.first {
                        case "\\": value.append("\\")
                        case "\"": value.append("\"")
                        case "n": value.append("\n")
                        default: throw Invalid(description: "\(where_): bad escape in a label value")
                        }
                        rest = rest.dropFirst()
                    } else {
                        value.append(c)
                    }
                }
                guard labels.updateValue(value, forKey: label) == nil else { throw Invalid(description: "\(where_): label \(label) twice") }
                if rest.first == "," { rest = rest.dropFirst() } else if rest.first != "}" {
                    throw Invalid(description: "\(where_): expected , or } after a label")
                }
            }
            rest = rest.dropFirst()
        }
        guard rest.first == " " else { throw Invalid(description: "\(where_): no space before the value") }
        let fields = rest.dropFirst().split(separator: " ", omittingEmptySubsequences: false)
        guard (1...2).contains(fields.count), let value = float(String(fields[0])) else {
            throw Invalid(description: "\(where_): bad value")
        }
        if fields.count == 2, Int64(fields[1]) == nil { throw Invalid(description: "\(where_): bad timestamp") }
        return Sample(name: name, labels: labels, value: value)
    }

    static func float(_ text: String) -> Double? {
        switch text {
        case "+Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default:
            // Swift's Double("inf") and Double("nan") parse words Prometheus does not accept.
            guard let first = text.first, first.isNumber || first == "-" || first == "+" || first == "." else { return nil }
            guard !text.lowercased().contains("inf"), !text.lowercased().contains("nan") else { return nil }
            return Double(text)
        }
    }

    static func isMetricName(_ name: String) -> Bool {
        guard let first = name.first, first.isASCII, first.isLetter || first == "_" || first == ":" else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") }
    }

    static func isLabelName(_ name: String) -> Bool {
        guard let first = name.first, first.isASCII, first.isLetter || first == "_" else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }
}
