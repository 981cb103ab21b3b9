import PluginAPI

/// The settings service inside the plugin host (`SB_HOST_EXT_SETTINGS`): served from the settings
/// `create` brought, by the same getters as inline (SettingsGetters), with no round trip.
extension ChildHostTables {
    static func makeSettingsTable() -> UnsafeMutablePointer<sb_host_settings> {
        let table = UnsafeMutablePointer<sb_host_settings>.allocate(capacity: 1)
        table.initialize(to: sb_host_settings(
            struct_size: UInt32(MemoryLayout<sb_host_settings>.size),
            get_string: { host, key, fallback, out, err, errSize in
                SettingsGetters.string(ChildHostServices.from(host)?.settingsReader, key, fallback, out, err, errSize)
            },
            get_integer: { host, key, fallback, out, err, errSize in
                SettingsGetters.integer(ChildHostServices.from(host)?.settingsReader, key, fallback, out, err, errSize)
            },
            get_number: { host, key, fallback, out, err, errSize in
                SettingsGetters.number(ChildHostServices.from(host)?.settingsReader, key, fallback, out, err, errSize)
            },
            get_bool: { host, key, fallback, out, err, errSize in
                SettingsGetters.bool(ChildHostServices.from(host)?.settingsReader, key, fallback, out, err, errSize)
            },
            get_string_list: { host, key, fallbackItems, fallbackCount, outItems, outCount, err, errSize in
                SettingsGetters.stringList(ChildHostServices.from(host)?.settingsReader, key, fallbackItems, fallbackCount,
                                           outItems, outCount, err, errSize)
            }))
        return table
    }
}
