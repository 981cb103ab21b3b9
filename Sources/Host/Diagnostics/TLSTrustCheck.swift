import Foundation

/// Can the daemon trust the broker: the CA file readable and a certificate in it, and the broker's
/// chain verified against it in a real handshake (the broker probe's).
enum TLSTrustCheck {
    static func check(_ config: Configuration, _ outcome: BrokerProbe.Outcome) -> DoctorCheck {
        let name = "tls"
        let tls = config.mqtt.tls
        // An mqtts:// entry of mqtt.brokers speaks TLS with these files whatever mqtt.tls.enabled says.
        guard tls.enabled || config.brokerList.contains(where: { $0.tls == true }) else {
            let local = LoopbackName.contains(config.brokerHost)
            return local ? .ok(name, "off (plain MQTT to \(config.brokerHost), which stays on this machine)")
                         : .warn(name, "off: the password and the announcements cross the network in clear text",
                                 fix: "if the broker offers TLS (usually port 8883), set mqtt.tls.ca_file and mqtt.port")
        }
        let ca = tls.caFile ?? "the system CAs (/etc/ssl/certs)"
        for (key, file) in [("mqtt.tls.ca_file", tls.caFile), ("mqtt.tls.cert_file", tls.certFile), ("mqtt.tls.key_file", tls.keyFile)] {
            guard let file else { continue }
            let text: String
            switch load(file) {
            case .success(let t): text = t
            case .failure(let why):
                return .fail(name, "\(key) \(file) cannot be read: \(why.description)",
                             fix: "point \(key) at an existing file the daemon's user may read")
            }
            if key != "mqtt.tls.key_file", !text.contains("-----BEGIN CERTIFICATE-----") {
                return .fail(name, "\(key) \(file) holds no PEM certificate", fix: "give \(key) the PEM file (-----BEGIN CERTIFICATE-----)")
            }
        }
        switch outcome {
        case .tlsFailed(let why):
            let verify = why.contains("certificate verify failed")
            return .fail(name, "the broker's certificate was not accepted with \(ca)",
                         details: [why, verify ? "the chain does not verify: the CA file did not sign the broker's certificate"
                                               : "the handshake failed: a CA that did not sign the broker's certificate, a host name the certificate does not name, or a port that does not speak TLS"],
                         fix: "set mqtt.tls.ca_file to the CA that signed the broker's certificate (openssl s_client -connect \(config.brokerHost):\(config.brokerPort) -showcerts shows it), and mqtt.host to a name in it")
        case .connected, .badCredentials, .notAuthorised, .rejected:
            return .ok(name, "the broker's chain verified against \(ca)" + (tls.insecure ? " (host name not checked: mqtt.tls.insecure)" : ""))
        default:
            return .warn(name, "not checked: no TLS handshake happened (see broker)", fix: nil)
        }
    }

    struct ReadFailure: Error, CustomStringConvertible { let description: String }

    private static func load(_ path: String) -> Result<String, ReadFailure> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(ReadFailure(description: String(cString: strerror(errno)))) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while bytes.count < 1 << 20 {
            let n = read(fd, &buffer, buffer.count)
            if n < 0 { return .failure(ReadFailure(description: String(cString: strerror(errno)))) }
            if n == 0 { break }
            bytes += buffer[0..<n]
        }
        return .success(String(decoding: bytes, as: UTF8.self))
    }
}
