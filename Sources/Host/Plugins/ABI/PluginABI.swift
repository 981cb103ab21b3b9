import PluginAPI

/// The ABI this host speaks: the version in the header it was built with, so a bump of the header
/// is a bump of the host (plugins built with the same header are never refused as too new).
public enum PluginABI {
    public static let major = Int(SB_ABI_MAJOR)
    public static let minor = Int(SB_ABI_MINOR)
    public static let entrySymbol = SB_PLUGIN_ENTRY_SYMBOL
}
