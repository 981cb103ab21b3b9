import PluginAPI

/// The settings service's C table (`SB_HOST_EXT_SETTINGS`): each getter reads the calling
/// instance's `PluginSettings` and hands strings out from its `PluginSettingsStrings`.
extension HostTables {
    static func makeSettingsTable() -> UnsafeMutablePointer<sb_host_settings> {
        let table = UnsafeMutablePointer<sb_host_settings>.allocate(capacity: 1)
        table.initialize(to: sb_host_settings(
            struct_size: UInt32(MemoryLayout<sb_host_settings>.size),
            get_string: { host, key, fallback, out, err, errSize in
                HostTables.readSetting(host, key, into: out, default: fallback, err: err, errSize: errSize) { ctx, key in
                    ctx.settings.string(key).map { $0.map { ctx.settingsStrings.string($0, key: key) } }
                }
            },
            get_integer: { host, key, fallback, out, err, errSize in
                HostTables.readSetting(host, key, into: out, default: fallback, err: err, errSize: errSize) { ctx, key in
                    ctx.settings.integer(key)
                }
            },
            get_number: { host, key, fallback, out, err, errSize in
                HostTables.readSetting(host, key, into: out, default: fallback, err: err, errSize: errSize) { ctx, key in
                    ctx.settings.number(key)
                }
            },
            get_bool: { host, key, fallback, out, err, errSize in
                HostTables.readSetting(host, key, into: out, default: fallback, err: err, errSize: errSize) { ctx, key in
                    ctx.settings.bool(key)
                }
            },
            get_string_list: { host, key, fallbackItems, fallbackCount, outItems, outCount, err, errSize in
                // Items and count travel together: read them as a pair, then hand out both halves.
                typealias List = (items: UnsafePointer<UnsafePointer<CChar>?>?, count: Int)
                var list: List = (fallbackItems, fallbackCount)
                let status = withUnsafeMutablePointer(to: &list) { pair in
                    HostTables.readSetting(host, key, into: outItems == nil || outCount == nil ? nil : pair,
                                           default: (fallbackItems, fallbackCount), err: err, errSize: errSize) { ctx, key -> Result<List?, PluginSettings.Problem> in
                        ctx.settings.stringList(key).map { $0.map { ctx.settingsStrings.list($0, key: key) } }
                    }
                }
                if let outItems, let outCount {
                    outItems.pointee = list.items
                    outCount.pointee = list.count
                }
                return status
            }))
        return table
    }

    /// One settings getter: the value at `key` into `out`, or the default with the reason in `err`
    /// and the log (the 1.1 error style: sb_status, out-parameter, `err`).
    static func readSetting<Value>(_ host: UnsafePointer<sb_host>?, _ key: UnsafePointer<CChar>?,
                                   into out: UnsafeMutablePointer<Value>?, default fallback: Value,
                                   err: UnsafeMutablePointer<CChar>?, errSize: Int,
                                   read: (PluginHostContext, String) -> Result<Value?, PluginSettings.Problem>) -> sb_status {
        guard let ctx = context(host) else {
            write("not a host handed to this plugin", to: err, size: errSize)
            return SB_ERR_INVALID
        }
        guard let key, let out else {
            let problem = "settings: the key and the out-parameter must not be NULL"
            ctx.logger.warning("plugin \(ctx.pluginID)#\(ctx.generation): \(problem)")
            write(problem, to: err, size: errSize)
            return SB_ERR_INVALID
        }
        switch read(ctx, String(cString: key)) {
        case .success(let value):
            out.pointee = value ?? fallback
            return SB_OK
        case .failure(let problem):
            out.pointee = fallback
            ctx.logger.warning("plugin \(ctx.pluginID)#\(ctx.generation): \(problem.description)")
            write(problem.description, to: err, size: errSize)
            return SB_ERR_INVALID
        }
    }
}
