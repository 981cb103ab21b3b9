/// The two places a request carries the admin token: the `speakerbridge_admin` cookie (set by
/// `POST /login`, for the browser) and `Authorization: Bearer <token>` (curl, Prometheus).
///
/// In the cookie the token is percent-encoded where a cookie value cannot hold a byte as it is
/// (space, `"`, `,`, `;`, `\`, controls, non-ASCII) and at `%`: a token file may hold any text, and
/// a hex token is unchanged.
enum AdminCredentials {
    static let cookieName = "speakerbridge_admin"

    /// Every value of the admin cookie in the request's Cookie headers (a browser may send the
    /// same name more than once, from different paths), decoded.
    static func cookieValues(in headers: [String]) -> [[UInt8]] {
        var values: [[UInt8]] = []
        for header in headers {
            for pair in header.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " || $0 == "\t" }
                guard let equals = trimmed.firstIndex(of: "="), trimmed[..<equals] == cookieName else { continue }
                var value = Substring(trimmed[trimmed.index(after: equals)...])
                while let last = value.last, last == " " || last == "\t" { value.removeLast() }
                if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = value.dropFirst().dropLast() }
                values.append(percentDecoded(Array(value.utf8)))
            }
        }
        return values
    }

    /// The token of an `Authorization: Bearer <token>` header (the scheme in any case), or nil.
    static func bearerToken(in header: String?) -> [UInt8]? {
        guard let header else { return nil }
        let value = header.drop { $0 == " " }
        guard let space = value.firstIndex(of: " "), value[..<space].lowercased() == "bearer" else { return nil }
        var token = value[space...].drop { $0 == " " }
        while token.last == " " { token.removeLast() }
        return token.isEmpty ? nil : Array(token.utf8)
    }

    /// The Set-Cookie value that hands the browser its credential: sent back to this listener only
    /// (Path=/), out of reach of scripts (HttpOnly), and not on requests other sites start
    /// (SameSite=Strict). A session cookie: it goes when the browser closes.
    static func loginCookie(token: [UInt8]) -> String {
        "\(cookieName)=\(cookieEncoded(token)); Path=/; HttpOnly; SameSite=Strict"
    }

    /// Clears the cookie (`POST /logout`).
    static let logoutCookie = "\(cookieName)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"

    /// RFC 6265's cookie-octet, minus `%`, which starts an escape.
    static func cookieEncoded(_ bytes: [UInt8]) -> String {
        var out = ""
        for byte in bytes {
            let plain = byte == 0x21 || ((0x23...0x2B).contains(byte) && byte != 0x25) || (0x2D...0x3A).contains(byte)
                || (0x3C...0x5B).contains(byte) || (0x5D...0x7E).contains(byte)
            if plain {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 0xF, radix: 16, uppercase: true)
            }
        }
        return out
    }

    /// `%XX` escapes decoded; a `%` without two hex digits after it stays as it is.
    static func percentDecoded(_ bytes: [UInt8], plusIsSpace: Bool = false) -> [UInt8] {
        func hex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%"), index + 2 < bytes.count,
               let high = hex(bytes[index + 1]), let low = hex(bytes[index + 2]) {
                out.append(high << 4 | low)
                index += 3
                continue
            }
            out.append(plusIsSpace && byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
            index += 1
        }
        return out
    }
}
