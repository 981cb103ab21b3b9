import Foundation

/// A plugin's own settings, `NAME.json` beside `NAME.so`. The host checks the file before `create`
/// so a plugin never receives text it cannot read: it must be valid UTF-8 and hold one JSON object.
/// A missing file means "no settings" (`{}`).
enum PluginSettingsFile {
    /// The settings file that belongs to the plugin at `libraryPath`.
    static func path(for libraryPath: String) -> String {
        ((libraryPath as NSString).deletingPathExtension) + ".json"
    }

    /// The text to hand to `create`. The file decides what the plugin reads and writes, so it must
    /// pass the same ownership and mode check as the plugin itself.
    static func load(for libraryPath: String) throws(PluginRejection) -> String {
        let file = path(for: libraryPath)
        guard FileManager.default.fileExists(atPath: file) else { return "{}" }
        try PluginFileCheck.check(file)
        guard let data = FileManager.default.contents(atPath: file) else {
            throw .badSettings(path: file, problem: "cannot be read: \(String(cString: strerror(errno)))")
        }
        return try validate(Array(data), path: file)
    }

    /// The settings text if `bytes` are valid UTF-8 holding a JSON object; otherwise the reason.
    static func validate(_ bytes: [UInt8], path: String) throws(PluginRejection) -> String {
        if let offset = firstInvalidUTF8Offset(bytes) {
            throw .badSettings(path: path, problem: "not valid UTF-8 at byte \(offset)")
        }
        let value: JSONValue
        do { value = try JSONValue.parse(bytes) } catch {
            // The parser speaks of request payloads; here it is a file.
            let detail = error.description.replacingOccurrences(of: "payload is not valid JSON", with: "not valid JSON")
            throw .badSettings(path: path, problem: detail)
        }
        guard case .object = value else {
            throw .badSettings(path: path, problem: "expected a JSON object, got \(PluginSettings.describe(value))")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Offset of the first byte that starts an invalid UTF-8 sequence, or nil when all are valid.
    static func firstInvalidUTF8Offset(_ bytes: [UInt8]) -> Int? {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var offset = 0
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): offset += UTF8.width(scalar)
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }
}
