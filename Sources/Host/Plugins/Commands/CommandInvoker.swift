import CFFI

/// Calls one typed command of a plugin through libffi, as the header's calling convention says:
///
///     sb_status function(sb_instance *instance, char *reply, size_t reply_size, <arguments…>);
///
/// The call interface (ffi_prep_cif) is prepared once per command; `call` can then run any number
/// of times. It is safe to call one invoker from several threads at once: a call only reads the
/// prepared interface and keeps its arguments and reply buffer in its own temporary memory. (Whether
/// the *plugin* tolerates that is another matter; the host calls an instance from one serial
/// executor, as the ABI promises.)
public final class CommandInvoker: @unchecked Sendable {
    // @unchecked Sendable, and why that is true: every stored property is set once in init and
    // never written again. `cif` and `argumentTypes` are heap memory that ffi_prep_cif fills in
    // during init and ffi_call only reads; the ffi_type entries they point to are libffi's
    // built-in, never-written globals; `function` is a code address. Nothing here is mutable after
    // init, so sharing across threads cannot race.
    public let signature: CommandSignature
    private let function: @convention(c) () -> Void
    private let cif: UnsafeMutablePointer<ffi_cif>
    private let argumentTypes: UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>
    /// What each parameter accepts, copied out of `signature` so checking a call copies no strings.
    private let accepts: [(type: CommandSignature.ParameterType, optional: Bool)]

    public struct PrepareError: Error, Sendable, CustomStringConvertible { public let description: String }

    /// `function` is the plugin's `sb_command.function`; the caller vouches that its C prototype
    /// matches `signature` (the ABI's contract — nothing can check it at run time).
    public init(signature: CommandSignature, function: UnsafeRawPointer) throws {
        let count = 3 + signature.parameters.count
        let types = UnsafeMutablePointer<UnsafeMutablePointer<ffi_type>?>.allocate(capacity: count)
        types[0] = sb_ffi_type_pointer()  // sb_instance *instance
        types[1] = sb_ffi_type_pointer()  // char *reply
        types[2] = sb_ffi_type_size_t()   // size_t reply_size
        for (i, p) in signature.parameters.enumerated() { types[3 + i] = p.type.ffiType }
        let cif = UnsafeMutablePointer<ffi_cif>.allocate(capacity: 1)
        // The cif keeps a pointer to `types`: both live exactly as long as this object.
        let status = ffi_prep_cif(cif, sb_ffi_default_abi(), UInt32(count), sb_ffi_type_sint32(), types)
        guard status == FFI_OK else {
            cif.deallocate()
            types.deallocate()
            throw PrepareError(description: "libffi cannot prepare a call for (\(signature)): ffi_prep_cif returned \(status.rawValue)")
        }
        self.signature = signature
        self.accepts = signature.parameters.map { ($0.type, $0.optional) }
        self.function = unsafeBitCast(function, to: (@convention(c) () -> Void).self)
        self.cif = cif
        self.argumentTypes = types
    }

    deinit {
        cif.deallocate()
        argumentTypes.deallocate()
    }

    /// Checks `json` against the signature and calls the plugin only if every argument is right:
    /// a wrong, missing or extra argument throws before the plugin is reached.
    public func call(instance: UnsafeMutableRawPointer?, json: [String: JSONValue], replyCapacity: Int = 4096)
        throws(ArgumentError) -> (status: Int32, reply: String)
    {
        call(instance: instance, arguments: try signature.bind(json), replyCapacity: replyCapacity)
    }

    /// Calls function(instance, reply, replyCapacity, args...) via ffi_call. `arguments` must come
    /// from `signature.bind` — anything else is a programming error and traps, because passing C a
    /// value of the wrong type (or NULL for a required string) is undefined behaviour.
    /// The reply buffer is zeroed before the call and its last byte forced to NUL after, so a plugin
    /// that forgets the terminator cannot make us read past the buffer; the reply is read up to the
    /// first NUL (invalid UTF-8 is repaired, not trusted).
    public func call(instance: UnsafeMutableRawPointer?, arguments: [BoundArgument], replyCapacity: Int = 4096)
        -> (status: Int32, reply: String)
    {
        precondition(replyCapacity >= 1, "the reply buffer needs room for its NUL")
        precondition(arguments.count == accepts.count && zip(arguments, accepts).allSatisfy { $0.fits($1) },
                     "arguments \(arguments) do not fit the signature (\(signature)); use signature.bind")

        let count = 3 + arguments.count
        let stringBytes = arguments.reduce(0) { if case .str(let s?) = $1 { $0 + s.utf8.count + 1 } else { $0 } }
        // One temporary block per call (on the stack when small): an 8-byte, 8-aligned slot per
        // argument, which holds any of our C types; the pointers to those slots that ffi_call
        // reads; the NUL-terminated strings; the reply buffer. All of it lives until ffi_call returns.
        return withUnsafeTemporaryAllocation(byteCount: 16 * count + stringBytes + replyCapacity, alignment: 8) { block in
            let slots = block.baseAddress!
            let values = (slots + 8 * count).bindMemory(to: UnsafeMutableRawPointer?.self, capacity: count)
            var nextString = slots + 16 * count
            let reply = UnsafeMutableBufferPointer(
                start: (nextString + stringBytes).bindMemory(to: UInt8.self, capacity: replyCapacity), count: replyCapacity)
            reply.initialize(repeating: 0)

            slots.storeBytes(of: instance, as: UnsafeMutableRawPointer?.self)
            (slots + 8).storeBytes(of: reply.baseAddress, as: UnsafeMutablePointer<UInt8>?.self)
            (slots + 16).storeBytes(of: UInt(replyCapacity), as: UInt.self)  // size_t has UInt's width
            for (i, argument) in arguments.enumerated() {
                let slot = slots + 8 * (3 + i)
                switch argument {
                case .bool(let v): slot.storeBytes(of: v ? 1 : 0, as: UInt8.self)  // C _Bool: one byte, 0 or 1
                case .i32(let v): slot.storeBytes(of: v, as: Int32.self)
                case .i64(let v): slot.storeBytes(of: v, as: Int64.self)
                case .u32(let v): slot.storeBytes(of: v, as: UInt32.self)
                case .f64(let v): slot.storeBytes(of: v, as: Double.self)
                case .str(nil): slot.storeBytes(of: nil, as: UnsafeRawPointer?.self)
                case .str(var text?):
                    slot.storeBytes(of: UnsafeRawPointer(nextString), as: UnsafeRawPointer?.self)
                    text.withUTF8 { utf8 in
                        if let bytes = utf8.baseAddress { nextString.copyMemory(from: bytes, byteCount: utf8.count) }
                        nextString += utf8.count
                    }
                    nextString.storeBytes(of: 0, as: UInt8.self)
                    nextString += 1
                }
            }
            for i in 0..<count { values[i] = slots + 8 * i }
            // libffi widens an integer return smaller than a register to a full ffi_arg and writes
            // all of it: a 4-byte result variable would be overrun.
            var result: ffi_arg = 0
            ffi_call(cif, function, &result, values)
            reply[replyCapacity - 1] = 0
            let length = reply.firstIndex(of: 0)!
            return (Int32(truncatingIfNeeded: result),
                    String(decoding: UnsafeBufferPointer(rebasing: reply[..<length]), as: UTF8.self))
        }
    }
}

extension CommandSignature.ParameterType {
    fileprivate var ffiType: UnsafeMutablePointer<ffi_type> {
        switch self {
        case .bool: sb_ffi_type_uint8()  // C _Bool is one byte; libffi widens it like the compiler does
        case .i32: sb_ffi_type_sint32()
        case .i64: sb_ffi_type_sint64()
        case .u32: sb_ffi_type_uint32()
        case .f64: sb_ffi_type_double()
        case .str: sb_ffi_type_pointer()
        }
    }
}

extension BoundArgument {
    /// Whether this value may be passed for `p`: the same C type, and NULL only where "?" allows it.
    fileprivate func fits(_ p: (type: CommandSignature.ParameterType, optional: Bool)) -> Bool {
        switch (self, p.type) {
        case (.bool, .bool), (.i32, .i32), (.i64, .i64), (.u32, .u32), (.f64, .f64): true
        case (.str(let s), .str): s != nil || p.optional
        default: false
        }
    }
}
