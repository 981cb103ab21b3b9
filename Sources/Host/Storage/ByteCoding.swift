import Foundation

/// Little-endian, length-prefixed encoding for spool records. Hand-rolled rather than Codable+JSON
/// because intake runs inside libmosquitto's message callback, before the PUBACK: it must be cheap.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    mutating func u8(_ v: UInt8) { bytes.append(v) }

    mutating func u32(_ v: UInt32) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func u64(_ v: UInt64) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func f64(_ v: Double) { u64(v.bitPattern) }

    mutating func blob(_ v: [UInt8]) {
        u32(UInt32(v.count))
        bytes.append(contentsOf: v)
    }

    mutating func string(_ v: String) { blob(Array(v.utf8)) }

    /// Optional values carry a presence byte so "absent" and "empty" stay different.
    mutating func optionalBlob(_ v: [UInt8]?) {
        if let v { u8(1); blob(v) } else { u8(0) }
    }

    mutating func optionalString(_ v: String?) { optionalBlob(v.map { Array($0.utf8) }) }
}

struct ByteReader {
    struct Truncated: Error {}

    private let bytes: ArraySlice<UInt8>
    private var index: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.index = bytes.startIndex
    }

    private mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, bytes.endIndex - index >= n else { throw Truncated() }
        defer { index += n }
        return bytes[index..<(index + n)]
    }

    mutating func u8() throws -> UInt8 { try take(1).first! }

    mutating func u32() throws -> UInt32 {
        try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func u64() throws -> UInt64 {
        try take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    mutating func f64() throws -> Double { Double(bitPattern: try u64()) }

    mutating func blob() throws -> [UInt8] { Array(try take(Int(try u32()))) }

    mutating func string() throws -> String { String(decoding: try blob(), as: UTF8.self) }

    mutating func optionalBlob() throws -> [UInt8]? { try u8() == 1 ? try blob() : nil }

    mutating func optionalString() throws -> String? {
        try optionalBlob().map { String(decoding: $0, as: UTF8.self) }
    }
}

/// CRC-32 (IEEE), to tell a torn last record after power loss from a valid one.
enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum<C: Collection>(_ data: C) -> UInt32 where C.Element == UInt8 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in data { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}
