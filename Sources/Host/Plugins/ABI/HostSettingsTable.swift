import Logging
import PluginAPI

/// The settings service's C table (`SB_HOST_EXT_SETTINGS`): each getter reads the calling
/// instance's `PluginSettings` and hands strings out from its `PluginSettingsStrings`.
extension HostTables {
    static func makeSettingsTable() -> UnsafeMutablePointer<sb_host_settings> {
        let table = UnsafeMutablePointer<sb_host_settings>.allocate(capacity: 1)
        table.initialize(to: sb_host_settings(
            struct_size: UInt32(MemoryLayout<sb_host_settings>.size),
            get_string: { host, key, fallback, out, err, errSize in
                SettingsGetters.string(HostTables.context(host)?.settingsReader, key, fallback, out, err, errSize)
            },
            get_integer: { host, key, fallback, out, err, errSize in
                SettingsGetters.integer(HostTables.context(host)?.settingsReader, key, fallback, out, err, errSize)
            },
            get_number: { host, key, fallback, out, err, errSize in
                SettingsGetters.number(HostTables.context(host)?.settingsReader, key, fallback, out, err, errSize)
            },
            get_bool: { host, key, fallback, out, err, errSize in
                SettingsGetters.bool(HostTables.context(host)?.settingsReader, key, fallback, out, err, errSize)
            },
            get_string_list: { host, key, fallbackItems, fallbackCount, outItems, outCount, err, errSize in
                SettingsGetters.stringList(HostTables.context(host)?.settingsReader, key, fallbackItems, fallbackCount,
                                           outItems, outCount, err, errSize)
            }))
        return table
    }
}

/// What a settings getter needs of an instance: its settings, the store of the C strings handed
/// out, and where its warnings go. The daemon's host context has one for an inline instance, the
/// plugin host process one for an isolated instance, so both modes give the same values and texts.
struct PluginSettingsReader: Sendable {
    let settings: PluginSettings
    let strings: PluginSettingsStrings
    /// Logs a problem ("plugin <id>#<generation>: " is added by the caller's logger).
    let warn: @Sendable (String) -> Void
}

extension PluginHostContext {
    var settingsReader: PluginSettingsReader {
        PluginSettingsReader(settings: settings, strings: settingsStrings) { [logger, pluginID, generation] problem in
            logger.warning("plugin \(pluginID)#\(generation): \(problem)")
        }
    }
}

/// The five getters of SB_HOST_EXT_SETTINGS over a `PluginSettingsReader` (nil: the host pointer
/// was not one handed to this plugin), in the 1.1 error style: sb_status, out-parameter, `err`.
enum SettingsGetters {
    static func string(_ reader: PluginSettingsReader?, _ key: UnsafePointer<CChar>?, _ fallback: UnsafePointer<CChar>?,
                       _ out: UnsafeMutablePointer<UnsafePointer<CChar>?>?, _ err: UnsafeMutablePointer<CChar>?, _ errSize: Int) -> sb_status {
        read(reader, key, into: out, default: fallback, err: err, errSize: errSize) { r, key in
            r.settings.string(key).map { $0.map { r.strings.string($0, key: key) } }
        }
    }

    static func integer(_ reader: PluginSettingsReader?, _ key: UnsafePointer<CChar>?, _ fallback: Int64,
                        _ out: UnsafeMutablePointer<Int64>?, _ err: UnsafeMutablePointer<CChar>?, _ errSize: Int) -> sb_status {
        read(reader, key, into: out, default: fallback, err: err, errSize: errSize) { r, key in r.settings.integer(key) }
    }

    static func number(_ reader: PluginSettingsReader?, _ key: UnsafePointer<CChar>?, _ fallback: Double,
                       _ out: UnsafeMutablePointer<Double>?, _ err: UnsafeMutablePointer<CChar>?, _ errSize: Int) -> sb_status {
        read(reader, key, into: out, default: fallback, err: err, errSize: errSize) { r, key in r.settings.number(key) }
    }

    static func bool(_ reader: PluginSettingsReader?, _ key: UnsafePointer<CChar>?, _ fallback: Bool,
                     _ out: UnsafeMutablePointer<Bool>?, _ err: UnsafeMutablePointer<CChar>?, _ errSize: Int) -> sb_status {
        read(reader, key, into: out, default: fallback, err: err, errSize: errSize) { r, key in r.settings.bool(key) }
    }

    static func stringList(_ reader: PluginSettingsReader?, _ key: UnsafePointer<CChar>?,
                           _ fallbackItems: UnsafePointer<UnsafePointer<CChar>?>?, _ fallbackCount: Int,
                           _ outItems: UnsafeMutablePointer<UnsafePointer<UnsafePointer<CChar>?>?>?, _ outCount: UnsafeMutablePointer<Int>?,
                           _ err: UnsafeMutablePointer<CChar>?, _ errSize: Int) -> sb_status {
        // Items and count travel together: read them as a pair, then hand out both halves.
        typealias List = (items: UnsafePointer<UnsafePointer<CChar>?>?, count: Int)
        var list: List = (fallbackItems, fallbackCount)
        let status = withUnsafeMutablePointer(to: &list) { pair in
            read(reader, key, into: outItems == nil || outCount == nil ? nil : pair,
                 default: (fallbackItems, fallbackCount), err: err, errSize: errSize) { r, key -> Result<List?, PluginSettings.Problem> in
                r.settings.stringList(key).map { $0.map { r.strings.list($0, key: key) } }
            }
        }
        if let outItems, let outCount {
            outItems.pointee = list.items
            outCount.pointee = list.count
        }
        return status
    }

    /// One settings getter: the value at `key` into `out`, or the default with the reason in `err`
    /// and the log.
    static func read<Value>(_ reader: PluginSettingsReader?, _ key: UnsafePointer<CChar>?,
                            into out: UnsafeMutablePointer<Value>?, default fallback: Value,
                            err: UnsafeMutablePointer<CChar>?, errSize: Int,
                            read: (PluginSettingsReader, String) -> Result<Value?, PluginSettings.Problem>) -> sb_status {
        guard let reader else {
            HostTables.write("not a host handed to this plugin", to: err, size: errSize)
            return SB_ERR_INVALID
        }
        guard let key, let out else {
            let problem = "settings: the key and the out-parameter must not be NULL"
            reader.warn(problem)
            HostTables.write(problem, to: err, size: errSize)
            return SB_ERR_INVALID
        }
        switch read(reader, String(cString: key)) {
        case .success(let value):
            out.pointee = value ?? fallback
            return SB_OK
        case .failure(let problem):
            out.pointee = fallback
            reader.warn(problem.description)
            HostTables.write(problem.description, to: err, size: errSize)
            return SB_ERR_INVALID
        }
    }
}
