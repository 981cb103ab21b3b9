import Foundation
internal import PluginAPI

/// The plugin's settings (`NAME.json` beside it) read by key as typed values, through the host's
/// settings service. An absent key (or JSON null) gives `default`; a value of another type throws
/// `PluginError(.invalid, …)` whose text names the key and both types — thrown from `init`, it
/// becomes the reason the plugin is refused. `Configuration` (Decodable) reads the same object;
/// this is for plugins that read a few keys, or read them later than `init`.
public struct HostSettings: Sendable {
    let host: PluginHost

    public func string(_ key: String, default fallback: String) throws(PluginError) -> String {
        var out: UnsafePointer<CChar>? = nil
        try read(key) { h, t, err, size in
            fallback.withCString { t.get_string(h, key, $0, &out, err, size) }
        }
        return out.map { String(cString: $0) } ?? fallback
    }

    public func integer(_ key: String, default fallback: Int64) throws(PluginError) -> Int64 {
        var out = fallback
        try read(key) { h, t, err, size in t.get_integer(h, key, fallback, &out, err, size) }
        return out
    }

    public func number(_ key: String, default fallback: Double) throws(PluginError) -> Double {
        var out = fallback
        try read(key) { h, t, err, size in t.get_number(h, key, fallback, &out, err, size) }
        return out
    }

    public func bool(_ key: String, default fallback: Bool) throws(PluginError) -> Bool {
        var out = fallback
        try read(key) { h, t, err, size in t.get_bool(h, key, fallback, &out, err, size) }
        return out
    }

    public func strings(_ key: String, default fallback: [String]) throws(PluginError) -> [String] {
        var items: UnsafePointer<UnsafePointer<CChar>?>? = nil
        var count = 0
        // The default is answered from Swift: the host hands back the default pointer itself, which
        // would not outlive this call.
        try read(key) { h, t, err, size in t.get_string_list(h, key, nil, 0, &items, &count, err, size) }
        guard let items else { return fallback }
        return (0..<count).map { items[$0].map { String(cString: $0) } ?? "" }
    }

    /// One getter call: SB_OK, or the host's reason as a `PluginError`.
    private func read(_ key: String, _ call: (UnsafePointer<sb_host>, sb_host_settings, UnsafeMutablePointer<CChar>, Int) -> Int32) throws(PluginError) {
        var err = [CChar](repeating: 0, count: 512)
        let status = err.withUnsafeMutableBufferPointer { buffer in
            host.withSettings { h, table in call(h, table, buffer.baseAddress!, buffer.count) }
        }
        guard status != SB_OK else { return }
        if status == SB_ERR_UNSUPPORTED {
            throw PluginError(.unsupported, "the host offers no settings service (setting \(String(reflecting: key)))")
        }
        let reason = String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw PluginError(PluginStatus(rawValue: status), reason)
    }
}
