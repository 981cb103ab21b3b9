import Foundation

/// Name lookup and a TCP connect with a deadline, told apart: the doctor must say whether the host
/// name, the listener or the path to it is wrong.
enum BrokerReach {
    enum Outcome: Sendable, Equatable {
        case reachable
        case unresolvable(String)
        case refused
        case timedOut
        case unreachable(String)
    }

    static func check(host: String, port: Int, timeout: Double) -> Outcome {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else { return .unresolvable(String(cString: gai_strerror(rc))) }
        defer { freeaddrinfo(list) }
        var outcome = Outcome.unreachable("no address")
        for ai in sequence(first: first, next: { $0.pointee.ai_next }) {
            let one = attempt(ai, timeout: timeout)
            if one == .reachable { return .reachable }
            // Several addresses (IPv6 and IPv4): a refusal says more than a silent address.
            if outcome != .refused { outcome = one }
        }
        return outcome
    }

    private static func attempt(_ ai: UnsafeMutablePointer<addrinfo>, timeout: Double) -> Outcome {
        let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), ai.pointee.ai_protocol)
        guard fd >= 0 else { return .unreachable(String(cString: strerror(errno))) }
        defer { close(fd) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var error: Int32 = 0
        if connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 { return .reachable }
        if errno == EINPROGRESS {
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            guard poll(&pfd, 1, Int32(timeout * 1000)) > 0 else { return .timedOut }
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len)
            if error == 0 { return .reachable }
        } else {
            error = errno
        }
        return error == ECONNREFUSED ? .refused : .unreachable(String(cString: strerror(error)))
    }
}
