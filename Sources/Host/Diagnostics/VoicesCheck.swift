import Foundation

/// The TTS engine's voices, as the running daemon's `voices` request lists them: no voices, no speech.
enum VoicesCheck {
    static func check(_ config: Configuration, _ daemon: DaemonAnswers) -> DoctorCheck {
        let name = "voices"
        switch daemon.voices {
        case .data(let data):
            let voices = data.arrayValue ?? []
            guard !voices.isEmpty else {
                return .fail(name, "the TTS plugin lists no voices", fix: "install the engine's voice data (Debian: espeak-ng-data) and reload: speakerbridge plugins reload")
            }
            let languages = Set(voices.compactMap { $0["language"]?.stringValue }.filter { !$0.isEmpty })
            let sample = voices.prefix(5).compactMap { $0["name"]?.stringValue ?? $0["id"]?.stringValue }.joined(separator: ", ")
            return .ok(name, "\(voices.count) voices in \(languages.count) languages (\(sample)\(voices.count > 5 ? ", …" : ""))")
        case .error(let message):
            return .fail(name, "the daemon has no voices: \(message)", details: ["announcements cannot be spoken without a TTS plugin"],
                         fix: "put the TTS plugin (tts-espeak.so; make run builds it into out/plugins) into \(config.pluginDirectories.first ?? "a plugin folder")")
        case .none:
            return .warn(name, daemon.silence(config), fix: nil)
        }
    }
}
