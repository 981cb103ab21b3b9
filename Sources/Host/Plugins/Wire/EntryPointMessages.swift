/// The entry-point methods of the plugin host protocol (WireMethod 1…99): what the daemon sends
/// and what the plugin host answers once the plugin's function returned. Both ends encode and
/// decode with these structs, so the field order lives in one place (docs/plugins.md lists it).
enum EntryPoint {
    typealias DecodeError = WireReader.Truncated

    // MARK: open

    /// Map the plugin file: copy `source` to `loadAs` and dlopen it there (as inline loading does).
    struct OpenRequest: WireMessage, Equatable {
        var source: String
        var loadAs: String

        func encode() -> [UInt8] {
            var w = WireWriter()
            w.string(source)
            w.string(loadAs)
            return w.bytes
        }

        init(source: String, loadAs: String) {
            self.source = source
            self.loadAs = loadAs
        }

        init(decoding bytes: [UInt8]) throws(DecodeError) {
            var r = WireReader(bytes)
            source = try r.string()
            loadAs = try r.string()
            try r.expectEnd(Self.self)
        }
    }

    /// What the descriptor says (PluginDescriptorInfo, in the generation layer above this one).
    struct Descriptor: Sendable, Equatable {
        var id, name, version, vendor, description: String
        var abiMajor, abiMinor: Int
    }

    /// Why the file was refused: a `PluginRejection` case number with its text and number fields
    /// in declaration order (Isolation/PluginRejectionCoding.swift maps the cases).
    struct Refusal: Error, Sendable, Equatable {
        var kind: UInt8
        var texts: [String]
        var numbers: [Double]
    }

    /// The descriptor, or the refusal: the daemon throws the very `PluginRejection` the plugin
    /// host's `PluginLibrary` threw, so bridge/info says the same as in inline mode.
    struct OpenReply: WireMessage, Equatable {
        var result: Result<Descriptor, Refusal>

        init(_ result: Result<Descriptor, Refusal>) { self.result = result }

        func encode() -> [UInt8] {
            var w = WireWriter()
            switch result {
            case .success(let d):
                w.bool(true)
                w.strings([d.id, d.name, d.version, d.vendor, d.description])
                w.i64(Int64(d.abiMajor))
                w.i64(Int64(d.abiMinor))
            case .failure(let refusal):
                w.bool(false)
                w.u8(refusal.kind)
                w.strings(refusal.texts)
                w.u32(UInt32(refusal.numbers.count))
                for n in refusal.numbers { w.f64(n) }
            }
            return w.bytes
        }

        init(decoding bytes: [UInt8]) throws(DecodeError) {
            var r = WireReader(bytes)
            if try r.bool() {
                let t = try r.strings()
                guard t.count == 5 else { throw DecodeError(description: "a descriptor of \(t.count) texts") }
                result = .success(Descriptor(id: t[0], name: t[1], version: t[2], vendor: t[3], description: t[4],
                                             abiMajor: Int(try r.i64()), abiMinor: Int(try r.i64())))
            } else {
                let kind = try r.u8()
                let texts = try r.strings()
                let n = Int(try r.u32())
                var numbers: [Double] = []
                for _ in 0..<min(n, 16) { numbers.append(try r.f64()) }
                result = .failure(Refusal(kind: kind, texts: texts, numbers: numbers))
            }
            try r.expectEnd(Self.self)
        }
    }

    // MARK: create

    /// `create` with the plugin's settings. The call timeout and generation are what the plugin
    /// host's own messages and services report.
    struct CreateRequest: WireMessage, Equatable {
        var settingsJSON: String
        var generation: Int
        var callTimeout: Double

        init(settingsJSON: String, generation: Int, callTimeout: Double) {
            self.settingsJSON = settingsJSON
            self.generation = generation
            self.callTimeout = callTimeout
        }

        func encode() -> [UInt8] {
            var w = WireWriter()
            w.string(settingsJSON)
            w.i64(Int64(generation))
            w.f64(callTimeout)
            return w.bytes
        }

        init(decoding bytes: [UInt8]) throws(DecodeError) {
            var r = WireReader(bytes)
            settingsJSON = try r.string()
            generation = Int(try r.i64())
            callTimeout = try r.f64()
            try r.expectEnd(Self.self)
        }
    }

    /// A typed command as the plugin declared it (the daemon parses the signature itself).
    struct DeclaredCommand: Sendable, Equatable {
        var name: String
        var signature: String
        var description: String
    }

    /// `create`'s status and error text; on success the extensions and commands it offers, and the
    /// first command whose call interface could not be prepared (the daemon refuses the plugin
    /// with `badCommand`, as inline).
    struct CreateReply: WireMessage, Equatable {
        var status: Int32
        var error: String
        var extensions: [String]
        var commands: [DeclaredCommand]
        var badCommand: (name: String, message: String)?

        init(status: Int32, error: String, extensions: [String] = [], commands: [DeclaredCommand] = [],
             badCommand: (name: String, message: String)? = nil) {
            self.status = status
            self.error = error
            self.extensions = extensions
            self.commands = commands
            self.badCommand = badCommand
        }

        static func == (a: CreateReply, b: CreateReply) -> Bool {
            a.status == b.status && a.error == b.error && a.extensions == b.extensions && a.commands == b.commands
                && a.badCommand?.name == b.badCommand?.name && a.badCommand?.message == b.badCommand?.message
        }

        func encode() -> [UInt8] {
            var w = WireWriter()
            w.i32(status)
            w.string(error)
            w.strings(extensions)
            w.u32(UInt32(commands.count))
            for c in commands {
                w.string(c.name)
                w.string(c.signature)
                w.string(c.description)
            }
            w.bool(badCommand != nil)
            if let badCommand {
                w.string(badCommand.name)
                w.string(badCommand.message)
            }
            return w.bytes
        }

        init(decoding bytes: [UInt8]) throws(DecodeError) {
            var r = WireReader(bytes)
            status = try r.i32()
            error = try r.string()
            extensions = try r.strings()
            let n = Int(try r.u32())
            commands = []
            for _ in 0..<min(n, 4096) {
                commands.append(DeclaredCommand(name: try r.string(), signature: try r.string(), description: try r.string()))
            }
            badCommand = try r.bool() ? (try r.string(), try r.string()) : nil
            try r.expectEnd(Self.self)
        }
    }

    // MARK: speakers

    /// The driver's speakers (the request has no fields).
    struct SpeakersReply: WireMessage, Equatable {
        var speakers: [SpeakerInfo]

        init(_ speakers: [SpeakerInfo]) { self.speakers = speakers }

        func encode() -> [UInt8] {
            var w = WireWriter()
            w.u32(UInt32(speakers.count))
            for s in speakers {
                w.string(s.id)
                w.string(s.name)
                w.string(s.model)
                w.optionalString(s.group)
                w.optionalString(s.address)
            }
            return w.bytes
        }

        init(decoding bytes: [UInt8]) throws(DecodeError) {
            var r = WireReader(bytes)
            let n = Int(try r.u32())
            speakers = []
            for _ in 0..<n {
                speakers.append(SpeakerInfo(id: try r.string(), name: try r.string(), model: try r.string(),
                                            group: try r.optionalString(), address: try r.optionalString()))
            }
            try r.expectEnd(Self.self)
        }
    }

    // MARK: operations (play a clip, synthesise)

    /// `play_clip` for the daemon's operation `operationID` (the plugin completes that id later
    /// through the operations service).
    struct PlayClipRequest: WireMessage, Equatable {
        var operationID: UInt64
        var speakerID: String
        var clip: SpeakerClip

        init(operationID: UInt64, speakerID: String, clip: SpeakerClip) {
            self.operationID = operationID
            self.speakerID = speakerID
            self.clip = clip
        }

        func encode() -> [UInt8] {
            var w = WireWriter()
            w.u64(operationID)
            w.string(speakerID)
            w.string(clip.url)
            w.string(clip.mime)
            w.u32(clip.durationMs)
            w.i32(clip.volume)
            w.optionalString(clip.announcementID)
            w.bool(clip.onlyWhenPlaying)
            w.bool(clip.group != nil)
            if let group = clip.group { w.strings(group) }
            return w.bytes
        }

        init(decoding bytes: [UInt8]) throws(DecodeError) {
            var r = WireReader(bytes)
            operationID = try r.u64()
            speakerID = try r.string()
            clip = SpeakerClip(url: try r.string(), mime: try r.string(), durationMs: try r.u32(), volume: try r.i32())
            clip.announcementID = try r.optionalString()
            clip.onlyWhenPlaying = try r.bool()
            clip.group = try r.bool() ? try r.strings() : nil
            try r.expectEnd(Self.self)
        }
    }

    /// `synthesize` for the daemon's operation `operationID`: the sb_tts_request fields.
    struct SynthesizeRequest: WireMessage, Equatable {
        var operationID: UInt64
        var text: String
        var voice: String?
        var rate: Int32
        var pitch: Int32
        var ssml: Bool

        init(operationID: UInt64, text: String, voice: String?, rate: Int32, pitch: Int32, ssml: Bool) {
            self.operationID = operationID
            self.text = text
            self.voice = voice
            self.rate = rate
            self.pitch = pitch
            self.ssml = ssml
        }

        func encode() -> [UInt8] {
            var w = WireWriter()
            w.u64(operationID)
            w.string(text)
            w.optionalString(voice)
            w.i32(rate)
            w.i32(pitch)
            w.bool(ssml)
            return w.bytes
        }

        init(decoding bytes: [UInt8]) throws(DecodeError) {
            var r = WireReader(bytes)
            operationID = try r.u64()
            text = try r.string()
            voice = try r.optionalString()
            rate = try r.i32()
            pitch = try r.i32()
            ssml = try r.bool()
            try r.expectEnd(Self.self)
        }
    }

    /// The answer of every call that returns a status and a text: play_clip and synthesize (the
    /// error buffer), cancel (no text), voices (the JSON), a typed command (its reply buffer),
    /// load_state (the error buffer).
    struct StatusReply: WireMessage, Equatable {
        var status: Int32
        var text: String

        init(status: Int32, text: String = "") {
            self.status = status
            self.text = text
        }

        func encode() -> [UInt8] {
            var w = WireWriter()
            w.i32(status)
            w.string(text)
            return w.bytes
        }

        init(decoding bytes: [UInt8]) throws(DecodeError) {
            var r = WireReader(bytes)
            status = try r.i32()
            text = try r.string()
            try r.expectEnd(Self.self)
        }
    }

    /// Asks the driver to stop `operationID` early.
    struct CancelRequest: WireMessage, Equatable {
        var operationID: UInt64

        init(operationID: UInt64) { self.operationID = operationID }

        func encode() -> [UInt8] {
            var w = WireWriter()
            w.u64(operationID)
            return w.bytes
        }

        init(decoding bytes: [UInt8]) throws(DecodeError) {
            var r = WireReader(bytes)
            operationID = try r.u64()
            try r.expectEnd(Self.self)
        }
    }

    // MARK: typed commands

    /// A typed command with arguments the daemon bound against the signature (`CommandSignature.bind`):
    /// the plugin host passes them to libffi as they are.
    struct CommandRequest: WireMessage, Equatable {
        var name: String
        var arguments: [BoundArgument]

        init(name: String, arguments: [BoundArgument]) {
            self.name = name
            self.arguments = arguments
        }

        func encode() -> [UInt8] {
            var w = WireWriter()
            w.string(name)
            w.u32(UInt32(arguments.count))
            for a in arguments {
                switch a {
                case .bool(let v): w.u8(1); w.bool(v)
                case .i32(let v): w.u8(2); w.i32(v)
                case .i64(let v): w.u8(3); w.i64(v)
                case .u32(let v): w.u8(4); w.u32(v)
                case .f64(let v): w.u8(5); w.f64(v)
                case .str(let v): w.u8(6); w.optionalString(v)
                }
            }
            return w.bytes
        }

        init(decoding bytes: [UInt8]) throws(DecodeError) {
            var r = WireReader(bytes)
            name = try r.string()
            let n = Int(try r.u32())
            arguments = []
            for _ in 0..<min(n, 1024) {
                switch try r.u8() {
                case 1: arguments.append(.bool(try r.bool()))
                case 2: arguments.append(.i32(try r.i32()))
                case 3: arguments.append(.i64(try r.i64()))
                case 4: arguments.append(.u32(try r.u32()))
                case 5: arguments.append(.f64(try r.f64()))
                case 6: arguments.append(.str(try r.optionalString()))
                case let t: throw DecodeError(description: "unknown argument type \(t)")
                }
            }
            try r.expectEnd(Self.self)
        }
    }

    // MARK: state handover

    /// The running build's state blob; `offered` false when it has no save function.
    struct SaveStateReply: WireMessage, Equatable {
        var offered: Bool
        var status: Int32
        var version: UInt32
        var bytes: [UInt8]

        init(offered: Bool, status: Int32, version: UInt32, bytes: [UInt8]) {
            self.offered = offered
            self.status = status
            self.version = version
            self.bytes = bytes
        }

        func encode() -> [UInt8] {
            var w = WireWriter()
            w.bool(offered)
            w.i32(status)
            w.u32(version)
            w.data(bytes)
            return w.bytes
        }

        init(decoding bytes: [UInt8]) throws(DecodeError) {
            var r = WireReader(bytes)
            offered = try r.bool()
            status = try r.i32()
            version = try r.u32()
            self.bytes = try r.data()
            try r.expectEnd(Self.self)
        }
    }

    /// The state blob handed to the new build (answered with a StatusReply: status, error text).
    struct LoadStateRequest: WireMessage, Equatable {
        var version: UInt32
        var bytes: [UInt8]

        init(version: UInt32, bytes: [UInt8]) {
            self.version = version
            self.bytes = bytes
        }

        func encode() -> [UInt8] {
            var w = WireWriter()
            w.u32(version)
            w.data(bytes)
            return w.bytes
        }

        init(decoding bytes: [UInt8]) throws(DecodeError) {
            var r = WireReader(bytes)
            version = try r.u32()
            self.bytes = try r.data()
            try r.expectEnd(Self.self)
        }
    }

    // MARK: ping

    /// Liveness, answered on the plugin host's reader thread: its resident memory.
    struct PingReply: WireMessage, Equatable {
        var residentKB: UInt64

        init(residentKB: UInt64) { self.residentKB = residentKB }

        func encode() -> [UInt8] {
            var w = WireWriter()
            w.u64(residentKB)
            return w.bytes
        }

        init(decoding bytes: [UInt8]) throws(DecodeError) {
            var r = WireReader(bytes)
            residentKB = try r.u64()
            try r.expectEnd(Self.self)
        }
    }
}

extension WireReader {
    /// A longer message is another version of the protocol, not something to ignore.
    func expectEnd<M>(_ message: M.Type) throws(Truncated) {
        guard isAtEnd else { throw Truncated(description: "\(M.self) has bytes left over") }
    }
}
