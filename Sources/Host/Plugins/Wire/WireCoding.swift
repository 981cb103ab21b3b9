import Foundation

/// The field encoding of the plugin host protocol: little-endian fixed-width integers, and
/// length-prefixed (u32) byte strings. A message is its fields in a fixed order (docs/plugins.md
/// lists them); there are no tags, so both ends must agree on the order, and a reader that runs
/// out of bytes or meets a bad length throws instead of guessing.
struct WireWriter {
    private(set) var bytes: [UInt8] = []

    init() {}

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func bool(_ v: Bool) { bytes.append(v ? 1 : 0) }
    mutating func u16(_ v: UInt16) { append(v.littleEndian) }
    mutating func u32(_ v: UInt32) { append(v.littleEndian) }
    mutating func i32(_ v: Int32) { append(v.littleEndian) }
    mutating func u64(_ v: UInt64) { append(v.littleEndian) }
    mutating func i64(_ v: Int64) { append(v.littleEndian) }
    mutating func f64(_ v: Double) { u64(v.bitPattern) }

    mutating func data(_ v: some Collection<UInt8>) {
        u32(UInt32(v.count))
        bytes.append(contentsOf: v)
    }

    mutating func data(_ pointer: UnsafeRawPointer?, count: Int) {
        u32(UInt32(count))
        if let pointer, count > 0 { bytes.append(contentsOf: UnsafeRawBufferPointer(start: pointer, count: count)) }
    }

    mutating func string(_ v: String) { data(v.utf8) }

    /// A present flag, then the string.
    mutating func optionalString(_ v: String?) {
        bool(v != nil)
        if let v { string(v) }
    }

    /// A C string, or absent for NULL.
    mutating func cString(_ p: UnsafePointer<CChar>?) {
        guard let p else { return bool(false) }
        bool(true)
        data(UnsafeRawPointer(p), count: strlen(p))
    }

    mutating func strings(_ v: [String]) {
        u32(UInt32(v.count))
        for s in v { string(s) }
    }

    /// Name/value pairs (HTTP headers).
    mutating func pairs(_ v: [(String, String)]) {
        u32(UInt32(v.count))
        for (n, value) in v { string(n); string(value) }
    }

    private mutating func append<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v) { bytes.append(contentsOf: $0) }
    }
}

struct WireReader {
    struct Truncated: Error, CustomStringConvertible {
        let description: String
    }

    private let bytes: [UInt8]
    private var offset: Int

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        offset = 0
    }

    var isAtEnd: Bool { offset >= bytes.count }

    mutating func u8() throws(Truncated) -> UInt8 { try fixed() }
    mutating func bool() throws(Truncated) -> Bool { try u8() != 0 }
    mutating func u16() throws(Truncated) -> UInt16 { try fixed() }
    mutating func u32() throws(Truncated) -> UInt32 { try fixed() }
    mutating func i32() throws(Truncated) -> Int32 { try fixed() }
    mutating func u64() throws(Truncated) -> UInt64 { try fixed() }
    mutating func i64() throws(Truncated) -> Int64 { try fixed() }
    mutating func f64() throws(Truncated) -> Double { Double(bitPattern: try u64()) }

    mutating func data() throws(Truncated) -> [UInt8] {
        let n = Int(try u32())
        guard n <= bytes.count - offset else { throw Truncated(description: "a field of \(n) bytes runs past the message") }
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }

    mutating func string() throws(Truncated) -> String { String(decoding: try data(), as: UTF8.self) }

    mutating func optionalString() throws(Truncated) -> String? { try bool() ? try string() : nil }

    mutating func strings() throws(Truncated) -> [String] {
        let n = Int(try u32())
        guard n <= bytes.count - offset else { throw Truncated(description: "a list of \(n) strings runs past the message") }
        var out: [String] = []
        for _ in 0..<n { out.append(try string()) }
        return out
    }

    mutating func pairs() throws(Truncated) -> [(String, String)] {
        let n = Int(try u32())
        guard n <= bytes.count - offset else { throw Truncated(description: "a list of \(n) pairs runs past the message") }
        var out: [(String, String)] = []
        for _ in 0..<n { out.append((try string(), try string())) }
        return out
    }

    private mutating func fixed<T: FixedWidthInteger>() throws(Truncated) -> T {
        let n = MemoryLayout<T>.size
        guard n <= bytes.count - offset else { throw Truncated(description: "the message ends inside a field") }
        var v = T.zero
        withUnsafeMutableBytes(of: &v) { dst in
            bytes.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[offset..<offset + n])) }
        }
        offset += n
        return T(littleEndian: v)
    }
}
