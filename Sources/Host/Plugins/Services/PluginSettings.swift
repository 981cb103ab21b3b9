import Foundation
import Synchronization

/// A plugin's settings (the checked `NAME.json` object) read as typed values by key, for the
/// settings host service. Absent keys and JSON null give the caller's default; a value of another
/// type is a `Problem` whose text names the key and both types.
struct PluginSettings: Sendable {
    /// Why a setting could not be read as asked; `description` is the text the plugin and the log get.
    struct Problem: Error, Equatable, CustomStringConvertible {
        let description: String
    }

    enum Kind: String, Sendable {
        case string = "a string", integer = "an integer", number = "a number", bool = "a boolean"
        case stringList = "a list of strings"
    }

    /// The largest integer a JSON number (a double) holds exactly; typed commands use the same bound.
    static let integerLimit = Double(1 << 53) - 1

    private let values: [String: JSONValue]

    /// `text` is the settings file as the host checked it; anything that is not a JSON object
    /// (which the check rules out) reads as no settings.
    init(json text: String) {
        values = (try? JSONValue.parse(Array(text.utf8)))?.objectValue ?? [:]
    }

    init(_ values: [String: JSONValue]) {
        self.values = values
    }

    /// The value at `key`, nil when absent or null (the default applies).
    private func value(_ key: String) -> JSONValue? {
        guard let value = values[key], value != .null else { return nil }
        return value
    }

    func string(_ key: String) -> Result<String?, Problem> {
        guard let value = value(key) else { return .success(nil) }
        guard case .string(let text) = value else { return .failure(mismatch(key, .string, value)) }
        guard !text.utf8.contains(0) else { return .failure(Problem(description: "setting \(Self.quoted(key)): \(Self.nulInside)")) }
        return .success(text)
    }

    func integer(_ key: String) -> Result<Int64?, Problem> {
        guard let value = value(key) else { return .success(nil) }
        guard case .number(let n) = value, n.rounded() == n, abs(n) <= Self.integerLimit else {
            return .failure(mismatch(key, .integer, value))
        }
        return .success(Int64(n))
    }

    func number(_ key: String) -> Result<Double?, Problem> {
        guard let value = value(key) else { return .success(nil) }
        guard case .number(let n) = value else { return .failure(mismatch(key, .number, value)) }
        return .success(n)
    }

    func bool(_ key: String) -> Result<Bool?, Problem> {
        guard let value = value(key) else { return .success(nil) }
        guard case .bool(let b) = value else { return .failure(mismatch(key, .bool, value)) }
        return .success(b)
    }

    func stringList(_ key: String) -> Result<[String]?, Problem> {
        guard let value = value(key) else { return .success(nil) }
        guard case .array(let items) = value else { return .failure(mismatch(key, .stringList, value)) }
        var strings: [String] = []
        for (index, item) in items.enumerated() {
            guard case .string(let text) = item else {
                return .failure(Problem(description: "setting \(Self.quoted(key))[\(index)]: expected a string, got \(Self.describe(item))"))
            }
            guard !text.utf8.contains(0) else {
                return .failure(Problem(description: "setting \(Self.quoted(key))[\(index)]: \(Self.nulInside)"))
            }
            strings.append(text)
        }
        return .success(strings)
    }

    private func mismatch(_ key: String, _ expected: Kind, _ value: JSONValue) -> Problem {
        Problem(description: "setting \(Self.quoted(key)): expected \(expected.rawValue), got \(Self.describe(value))")
    }

    private static func quoted(_ key: String) -> String { String(reflecting: key) }

    /// C would cut such a string short, so the plugin would read something else than the file says.
    private static let nulInside = "a string with a NUL character inside cannot be handed to a plugin"

    /// The JSON type of `value`, with the number itself when "a number" would not say what is wrong
    /// (1.5 asked as an integer).
    static func describe(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool(let b): "a boolean (\(b))"
        case .number(let n): n.rounded() == n && abs(n) < 9e18 ? "the number \(Int64(n))" : "the number \(n)"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// The C strings the settings service has handed one instance; they live until the instance is
/// destroyed (this object goes with its host context), as the header promises. Each key's strings
/// are made once, so a plugin that reads a setting in a loop does not grow the store.
final class PluginSettingsStrings: Sendable {
    /// Owned C strings, freed in deinit (when no instance can call any more); the Mutex guards
    /// every access.
    private struct Owned {
        var strings: [String: UnsafeMutablePointer<CChar>] = [:]
        var lists: [String: (items: UnsafeMutablePointer<UnsafePointer<CChar>?>, count: Int)] = [:]
    }
    private let owned = Mutex(Owned())

    /// A C string for `text` under `key`, alive until this store goes.
    func string(_ text: String, key: String) -> UnsafePointer<CChar> {
        // An instance's settings never change, so the first copy for a key stays right.
        owned.withLock { o in
            if let existing = o.strings[key] { return UnsafePointer(existing) }
            let copy = strdup(text)!
            o.strings[key] = copy
            return UnsafePointer(copy)
        }
    }

    /// A C array of C strings for `items` under `key`, alive until this store goes.
    func list(_ items: [String], key: String) -> (UnsafePointer<UnsafePointer<CChar>?>, Int) {
        owned.withLock { o in
            if let existing = o.lists[key] { return (UnsafePointer(existing.items), existing.count) }
            let array = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: max(items.count, 1))
            for (i, item) in items.enumerated() { array[i] = UnsafePointer(strdup(item)!) }
            o.lists[key] = (array, items.count)
            return (UnsafePointer(array), items.count)
        }
    }

    deinit {
        owned.withLock { o in
            for p in o.strings.values { free(p) }
            for list in o.lists.values {
                for i in 0..<list.count { free(UnsafeMutablePointer(mutating: list.items[i])) }
                list.items.deallocate()
            }
        }
    }
}
