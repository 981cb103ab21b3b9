/// The release version, printed by `speakerbridge version` and published in `bridge/info`.
public enum SpeakerbridgeVersion {
    public static let current = "0.1.0"
}
