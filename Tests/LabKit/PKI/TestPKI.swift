import Foundation

/// A throw-away certificate authority with a server and a client certificate, made with the
/// openssl CLI (EC P-256: fast to generate; valid 2 days).
public struct TestPKI: Sendable {
    public let caCert: String
    public let caKey: String
    public let serverCert: String
    public let serverKey: String
    public let clientCert: String
    public let clientKey: String

    /// Creates the files in `dir` (which must exist). The server certificate carries the given
    /// names and IPs as subjectAltName: clients verify the host against the SAN, not the CN.
    public static func make(in dir: String, serverNames: [String] = ["localhost"],
                            serverIPs: [String] = ["127.0.0.1"]) throws -> TestPKI {
        let ca = try makeCA(in: dir, name: "ca", commonName: "LabKit Test CA")
        let san = (serverNames.map { "DNS:\($0)" } + serverIPs.map { "IP:\($0)" }).joined(separator: ",")
        try issue(in: dir, name: "server", commonName: serverNames.first ?? serverIPs.first ?? "server",
                  ca: ca, extensions: ["extendedKeyUsage=serverAuth", "subjectAltName=\(san)"])
        try issue(in: dir, name: "client", commonName: "labkit-client",
                  ca: ca, extensions: ["extendedKeyUsage=clientAuth"])
        return TestPKI(caCert: ca.cert, caKey: ca.key,
                       serverCert: "\(dir)/server.crt", serverKey: "\(dir)/server.key",
                       clientCert: "\(dir)/client.crt", clientKey: "\(dir)/client.key")
    }

    /// A second, unrelated CA (for "server signed by a CA the client does not trust" tests).
    public static func makeOtherCA(in dir: String) throws -> (cert: String, key: String) {
        try makeCA(in: dir, name: "other-ca", commonName: "LabKit Other CA")
    }

    private static func newKey(_ path: String) throws {
        try Shell.runChecked(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path])
    }

    private static func makeCA(in dir: String, name: String, commonName: String) throws -> (cert: String, key: String) {
        let key = "\(dir)/\(name).key", cert = "\(dir)/\(name).crt"
        try newKey(key)
        // Our own minimal config: the distro one already adds extensions, and -addext of the
        // same extension would then fail as a duplicate.
        let conf = "\(dir)/\(name).cnf"
        try """
            [req]
            distinguished_name = dn
            x509_extensions = v3_ca
            prompt = no
            [dn]
            CN = \(commonName)
            [v3_ca]
            basicConstraints = critical,CA:TRUE
            keyUsage = critical,keyCertSign,cRLSign
            subjectKeyIdentifier = hash
            """.write(toFile: conf, atomically: true, encoding: .utf8)
        try Shell.runChecked(["openssl", "req", "-x509", "-new", "-config", conf, "-key", key, "-days", "2", "-out", cert])
        return (cert, key)
    }

    private static func issue(in dir: String, name: String, commonName: String,
                              ca: (cert: String, key: String), extensions: [String]) throws {
        let key = "\(dir)/\(name).key", csr = "\(dir)/\(name).csr", ext = "\(dir)/\(name).ext"
        try newKey(key)
        try Shell.runChecked(["openssl", "req", "-new", "-key", key, "-subj", "/CN=\(commonName)", "-out", csr])
        try (["basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment",
              "authorityKeyIdentifier=keyid"] + extensions).joined(separator: "\n")
            .write(toFile: ext, atomically: true, encoding: .utf8)
        try Shell.runChecked(["openssl", "x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key,
                              "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", "\(dir)/\(name).crt"])
    }
}
