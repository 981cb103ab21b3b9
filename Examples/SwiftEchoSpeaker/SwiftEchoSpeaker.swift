// SwiftEchoSpeaker: the example speakerbridge plugin in Swift, built on PluginKit.
// One speaker, "Echo", that "plays" a clip by logging its URL, publishing its state and finishing
// after a short wait; and one typed command, `echo`.
import Foundation
import PluginKit

/// The library's one exported symbol: the host looks it up with dlsym and reads the descriptor.
@_cdecl("speakerbridge_plugin_entry")
public func speakerbridgePluginEntry() -> UnsafeRawPointer {
    PluginExport.descriptor(for: SwiftEchoSpeaker.self)
}

final class SwiftEchoSpeaker: SpeakerDriver {
    static let id = "org.speakerbridge.example.swift-echo"
    static let name = "Swift echo speaker"
    static let version = "1.0.0"
    static let vendor = "speakerbridge"
    static let summary = "Logs the clips it is asked to play and echoes text back; the PluginKit example"

    let host: PluginHost
    let greeting: String

    /// Settings (`swift-echo.json`), e.g. `{"greeting": "Hello"}`, read through the host's settings
    /// service: a greeting that is not a string refuses the plugin with the host's reason.
    /// (A `Configuration: Decodable` type would read the same object in one go.)
    init(host: PluginHost, configuration: NoConfiguration) throws {
        self.host = host
        greeting = try host.settings.string("greeting", default: "Hello from Swift")
        host.log(.info, "\(greeting) (swift-echo ready)")
    }

    let speakers = [Speaker(id: "swift-echo", name: "Echo", model: "Swift echo speaker")]

    /// Runs in a task; PluginKit completes the host's operation when it returns (or throws).
    func play(clip: Clip, on speaker: Speaker) async throws {
        host.log(.info, "play \(clip.url) on \(speaker.id)")
        try host.publishState(speaker: speaker.id, ["state": "playing", "url": clip.url])
        try await host.sleep(milliseconds: 50)
        try host.publishState(speaker: speaker.id, ["state": "idle"])
    }

    static let commands = [
        Command("echo", signature: "text:str", description: "Send a text back", function: echo),
    ]

    /// "text:str" → sb_status echo(sb_instance *, char *reply, size_t reply_size, const char *text)
    static let echo: @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>?, Int, UnsafePointer<CChar>?) -> Int32 = {
        instance, reply, replySize, text in
        CommandCall.run(instance, reply, replySize, as: SwiftEchoSpeaker.self) { plugin in
            try .encoding(["echo": CommandCall.string(text) ?? "", "from": "swift"])
        }
    }
}
