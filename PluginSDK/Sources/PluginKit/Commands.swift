import Foundation
internal import PluginAPI

/// A typed command (`speakerbridge.commands/1`).
///
/// The host calls `function` through libffi as
/// `sb_status fn(sb_instance *, char *reply, size_t reply_size, <arguments in signature order>)`,
/// so it must be a `@convention(c)` closure (no captures) of exactly that shape, with the C types
/// mapped to Swift as:
///
///     sb_instance *  → OpaquePointer?              bool     → Bool
///     char *reply    → UnsafeMutablePointer<CChar>? int32_t  → Int32     int64_t → Int64
///     size_t         → Int                          uint32_t → UInt32    double  → Double
///     const char *   → UnsafePointer<CChar>?        sb_status (return) → Int32
///
/// Nothing checks that the closure's parameters match the signature string: keep them in step.
/// Inside, use `CommandCall.run` to get the instance back, write the reply and turn errors into a
/// status.
public struct Command: @unchecked Sendable {
    // @unchecked: `function` is the address of code, immutable.
    public let name: String
    public let signature: String
    public let description: String
    let function: UnsafeRawPointer

    /// `function` must be a `@convention(c)` function value (a thin pointer); a Swift closure or
    /// anything else of another size traps here, at registration.
    public init<Function>(_ name: String, signature: String, description: String = "", function: Function) {
        precondition(MemoryLayout<Function>.size == MemoryLayout<UnsafeRawPointer>.size,
                     "Command \(name): the function must be a @convention(c) closure, got \(Function.self)")
        self.name = name
        self.signature = signature
        self.description = description
        self.function = unsafeBitCast(function, to: UnsafeRawPointer.self)
    }
}

/// The data of a command's answer: a JSON value, or nothing.
public struct CommandReply: Sendable {
    let json: String

    /// No data.
    public static let empty = CommandReply(json: "")
    /// JSON text exactly as given (it must be one valid JSON value).
    public static func json(_ text: String) -> CommandReply { CommandReply(json: text) }
    /// `value` encoded as JSON.
    public static func encoding(_ value: some Encodable) throws(PluginError) -> CommandReply {
        CommandReply(json: try JSONText.encode(value))
    }
    /// A `JSONSerialization` object (`["volume": 30]`) encoded as JSON.
    public static func object(_ value: Any) throws(PluginError) -> CommandReply {
        CommandReply(json: try JSONText.encode(object: value))
    }
}

/// Helpers for the body of a command function.
public enum CommandCall {
    /// Finds the plugin behind `instance`, runs `body` with it and writes its reply (or, when it
    /// throws, the reason) into the host's buffer. Returns the status to hand back to the host.
    /// A reply that does not fit is never sent truncated: it becomes `.failed`, "reply too long".
    public static func run<P: SpeakerbridgePlugin>(
        _ instance: OpaquePointer?, _ reply: UnsafeMutablePointer<CChar>?, _ replySize: Int, as type: P.Type,
        _ body: (P) throws -> CommandReply
    ) -> Int32 {
        guard let plugin = PluginExport.plugin(instance, as: P.self) else {
            CString.write("no \(P.self) instance", to: reply, size: replySize, truncating: true)
            return SB_ERR_INVALID
        }
        do {
            let answer = try body(plugin)
            guard CString.write(answer.json, to: reply, size: replySize, truncating: false) else {
                CString.write("reply too long (\(answer.json.utf8.count) bytes, the buffer holds \(max(replySize - 1, 0)))",
                              to: reply, size: replySize, truncating: true)
                return SB_ERR_FAILED
            }
            return SB_OK
        } catch {
            let (status, message) = PluginError.describe(error)
            CString.write(message, to: reply, size: replySize, truncating: true)
            return status.rawValue
        }
    }

    /// A `str` argument as a Swift string (nil for an absent optional `name:str?`).
    public static func string(_ argument: UnsafePointer<CChar>?) -> String? {
        argument.map { String(cString: $0) }
    }
}

/// Writing into the ABI's caller-supplied buffers (`err`, `reply`): always NUL-terminated.
public enum CString {
    /// Writes `text` and a NUL into `buffer` (`size` bytes). When it does not fit: with
    /// `truncating`, writes as much as fits (cut at a UTF-8 character boundary) and returns false;
    /// without, writes an empty string and returns false.
    @discardableResult
    public static func write(_ text: String, to buffer: UnsafeMutablePointer<CChar>?, size: Int, truncating: Bool) -> Bool {
        guard let buffer, size > 0 else { return text.isEmpty }
        var bytes = Array(text.utf8)
        let fits = bytes.count < size
        if !fits {
            guard truncating else {
                buffer[0] = 0
                return false
            }
            var n = size - 1
            while n > 0 && bytes[n] & 0xC0 == 0x80 { n -= 1 }  // do not split a character
            bytes.removeSubrange(n...)
        }
        bytes.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { UnsafeMutableRawPointer(buffer).copyMemory(from: base, byteCount: src.count) }
        }
        buffer[bytes.count] = 0
        return fits
    }
}
