import Foundation

/// Writes `object` (a JSON object or array) to `path`, as a plugin's settings file for example.
public func writeJSON(_ object: Any, to path: String) throws {
    try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
}
