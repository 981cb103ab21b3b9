import Dispatch
import Foundation
import Synchronization

/// One end of the plugin host protocol: framed calls, replies and one-way notes over a connected
/// stream socket (the socketpair between the daemon and a plugin host process), file descriptors
/// passed beside a frame with SCM_RIGHTS (clips cross as memfds, not as bytes in the socket).
///
/// A frame is a 12-byte header — u32 length of what follows the length field, u8 kind (1 call,
/// 2 reply, 3 note), u8 number of descriptors passed with it, u16 method, u32 sequence number —
/// then the method's fields (WireCoding). A reply carries its call's method and sequence number.
/// One reader thread reads every frame and runs the handlers on that thread, so a handler must
/// not wait for another frame of the same channel (hand the work to another queue instead).
final class PluginChannel: Sendable {
    enum Kind: UInt8, Sendable {
        case call = 1, reply = 2, note = 3
    }

    /// A received call, reply or note. The descriptors now belong to whoever handles it.
    struct Message: Sendable {
        let method: UInt16
        let payload: [UInt8]
        let fds: [Int32]
        let sequence: UInt32
    }

    enum Failure: Error, Equatable, CustomStringConvertible {
        /// The other end is gone (EOF, a broken pipe, a protocol error); the text says which.
        case closed(String)
        /// No reply within the deadline; the call may still be running on the other end.
        case timedOut(seconds: Double)

        var description: String {
            switch self {
            case .closed(let why): "the plugin host connection is closed (\(why))"
            case .timedOut(let s): "no answer within \(s) s"
            }
        }
    }

    typealias CallHandler = @Sendable (_ call: Message) -> Void
    typealias NoteHandler = @Sendable (_ note: Message) -> Void

    /// Frames bigger than this end the connection: nothing the protocol carries comes near it.
    static let maxFrame = 64 << 20
    static let headerSize = 12

    private enum Waiter: Sendable {
        case task(CheckedContinuation<Result<Message, Failure>, Never>)
        case thread(BlockingReply)
    }

    /// A reply waited for by a thread that is not in Swift concurrency (a plugin calling a host
    /// service from its own thread, or from the plugin host's executor).
    final class BlockingReply: Sendable {
        let semaphore = DispatchSemaphore(value: 0)
        let result = Mutex<Result<Message, Failure>?>(nil)
    }

    let label: String
    private let fd: Int32
    private let sendLock = Mutex<Void>(())
    private let waiters = Mutex<[UInt32: Waiter]>([:])
    private let nextSequence = Atomic<UInt32>(1)
    private let closedReason = Mutex<String?>(nil)
    /// The descriptor is still ours: after `finish` closed it, its number may belong to another
    /// socket already (the next plugin host's), which a late `close` must not shut down.
    private let fdOpen = Mutex<Bool>(true)

    init(fd: Int32, label: String) {
        self.fd = fd
        self.label = label
    }

    var isClosed: Bool { closedReason.withLock { $0 != nil } }

    /// Starts the reader thread. `onClose` runs once, on it, after every waiting call was failed.
    func start(onCall: @escaping CallHandler, onNote: @escaping NoteHandler, onClose: @escaping @Sendable (String) -> Void) {
        let thread = Thread { [self] in
            let why = readLoop(onCall: onCall, onNote: onNote)
            finish(why)
            onClose(why)
        }
        thread.name = "wire.\(label)"
        thread.start()
    }

    /// Ends the connection from this side: the reader sees the end, waiting calls fail with `why`.
    func close(_ why: String) {
        closedReason.withLock { if $0 == nil { $0 = why } }
        fdOpen.withLock { open in if open { shutdown(fd, Int32(SHUT_RDWR)) } }
    }

    // MARK: sending

    /// Calls `method` and waits for its reply (at most `timeout` seconds; nil: for ever).
    func call(_ method: UInt16, _ payload: [UInt8], fds: [Int32] = [], timeout: Double?) async -> Result<Message, Failure> {
        let sequence = nextSequence.wrappingAdd(1, ordering: .relaxed).oldValue
        return await withCheckedContinuation { continuation in
            if let why = closedReason.withLock({ $0 }) { return continuation.resume(returning: .failure(.closed(why))) }
            waiters.withLock { $0[sequence] = .task(continuation) }
            if let timeout {
                DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { [self] in
                    resolve(sequence, .failure(.timedOut(seconds: timeout)))
                }
            }
            if case .failure(let f) = send(.call, method: method, sequence: sequence, payload: payload, fds: fds) {
                resolve(sequence, .failure(f))
            }
        }
    }

    /// The same, blocking the calling thread.
    func callBlocking(_ method: UInt16, _ payload: [UInt8], fds: [Int32] = [], timeout: Double?) -> Result<Message, Failure> {
        let sequence = nextSequence.wrappingAdd(1, ordering: .relaxed).oldValue
        if let why = closedReason.withLock({ $0 }) { return .failure(.closed(why)) }
        let box = BlockingReply()
        waiters.withLock { $0[sequence] = .thread(box) }
        if case .failure(let f) = send(.call, method: method, sequence: sequence, payload: payload, fds: fds) {
            resolve(sequence, .failure(f))
        }
        if let timeout {
            if box.semaphore.wait(timeout: .now() + timeout) == .timedOut {
                resolve(sequence, .failure(.timedOut(seconds: timeout)))
                box.semaphore.wait()
            }
        } else {
            box.semaphore.wait()
        }
        return box.result.withLock { $0 } ?? .failure(.closed("no reply"))
    }

    /// A one-way message.
    @discardableResult
    func notify(_ method: UInt16, _ payload: [UInt8], fds: [Int32] = []) -> Result<Void, Failure> {
        send(.note, method: method, sequence: 0, payload: payload, fds: fds)
    }

    /// Answers `call`.
    @discardableResult
    func reply(to call: Message, _ payload: [UInt8], fds: [Int32] = []) -> Result<Void, Failure> {
        send(.reply, method: call.method, sequence: call.sequence, payload: payload, fds: fds)
    }

    private func send(_ kind: Kind, method: UInt16, sequence: UInt32, payload: [UInt8], fds: [Int32]) -> Result<Void, Failure> {
        if let why = closedReason.withLock({ $0 }) { return .failure(.closed(why)) }
        guard payload.count + PluginChannel.headerSize <= PluginChannel.maxFrame, fds.count < 256 else {
            return .failure(.closed("a frame of \(payload.count) bytes is too big to send"))
        }
        var frame = WireWriter()
        frame.u32(UInt32(PluginChannel.headerSize - 4 + payload.count))
        frame.u8(kind.rawValue)
        frame.u8(UInt8(fds.count))
        frame.u16(method)
        frame.u32(sequence)
        let bytes = frame.bytes + payload
        let error: String? = sendLock.withLock { _ in
            guard fdOpen.withLock({ $0 }) else { return "the connection is closed" }
            var sent = 0
            while sent < bytes.count {
                let n = bytes.withUnsafeBytes { all -> Int in
                    var iov = iovec(iov_base: UnsafeMutableRawPointer(mutating: all.baseAddress! + sent), iov_len: all.count - sent)
                    var msg = msghdr()
                    msg.msg_iov = withUnsafeMutablePointer(to: &iov) { $0 }
                    msg.msg_iovlen = 1
                    // Descriptors ride with the first bytes of the frame only.
                    guard sent == 0, !fds.isEmpty else { return sendWithoutSignal(fd, &msg) }
                    let space = PluginChannel.controlSpace(fds.count)
                    var control = [UInt8](repeating: 0, count: space)
                    return control.withUnsafeMutableBytes { c -> Int in
                        msg.msg_control = c.baseAddress
                        msg.msg_controllen = space
                        let header = c.baseAddress!.assumingMemoryBound(to: cmsghdr.self)
                        header.pointee.cmsg_level = SOL_SOCKET
                        header.pointee.cmsg_type = Int32(SCM_RIGHTS)
                        header.pointee.cmsg_len = PluginChannel.controlLength(fds.count)
                        let data = c.baseAddress! + MemoryLayout<cmsghdr>.stride
                        fds.withUnsafeBytes { data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                        return sendWithoutSignal(fd, &msg)
                    }
                }
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno == EAGAIN || errno == EWOULDBLOCK ? "the other end stopped reading" : "send: \(String(cString: strerror(errno)))"
                }
                sent += n
            }
            return nil
        }
        if let error {
            close(error)
            return .failure(.closed(error))
        }
        return .success(())
    }

    // MARK: receiving

    private func resolve(_ sequence: UInt32, _ result: Result<Message, Failure>) {
        guard let waiter = waiters.withLock({ $0.removeValue(forKey: sequence) }) else {
            // A late reply to a call that timed out: its descriptors would leak.
            if case .success(let m) = result { m.fds.forEach { _ = Glibc.close($0) } }
            return
        }
        switch waiter {
        case .task(let c): c.resume(returning: result)
        case .thread(let box):
            box.result.withLock { $0 = result }
            box.semaphore.signal()
        }
    }

    private func finish(_ why: String) {
        let reason = closedReason.withLock { r -> String in
            if r == nil { r = why }
            return r!
        }
        // resolve takes each waiter out of the table itself: emptying the table first would leave
        // every pending call unanswered (a leaked continuation) until its timeout.
        let all = waiters.withLock { Array($0.keys) }
        for s in all { resolve(s, .failure(.closed(reason))) }
        // Under the send lock: a sender that checked the reason before it was set is done first.
        sendLock.withLock { _ in
            fdOpen.withLock { open in
                open = false
                Glibc.close(fd)
            }
        }
    }

    /// Reads frames until the end; returns why it ended.
    private func readLoop(onCall: CallHandler, onNote: NoteHandler) -> String {
        var buffer: [UInt8] = []
        var received: [Int32] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        let space = PluginChannel.controlSpace(32)
        var control = [UInt8](repeating: 0, count: space)
        while true {
            let n = chunk.withUnsafeMutableBytes { c in
                control.withUnsafeMutableBytes { ctl -> Int in
                    var iov = iovec(iov_base: c.baseAddress, iov_len: c.count)
                    var msg = msghdr()
                    msg.msg_iov = withUnsafeMutablePointer(to: &iov) { $0 }
                    msg.msg_iovlen = 1
                    msg.msg_control = ctl.baseAddress
                    msg.msg_controllen = ctl.count
                    let n = recvmsg(fd, &msg, Int32(MSG_CMSG_CLOEXEC))
                    if n > 0 { received += PluginChannel.descriptors(in: &msg) }
                    return n
                }
            }
            if n == 0 { return closedReason.withLock { $0 } ?? "end of stream" }
            if n < 0 {
                if errno == EINTR { continue }
                return closedReason.withLock { $0 } ?? "recv: \(String(cString: strerror(errno)))"
            }
            buffer.append(contentsOf: chunk[0..<n])
            var start = 0
            while buffer.count - start >= PluginChannel.headerSize {
                var header = WireReader(Array(buffer[start..<start + PluginChannel.headerSize]))
                let length = Int((try? header.u32()) ?? 0)
                guard length >= PluginChannel.headerSize - 4, length <= PluginChannel.maxFrame else {
                    return "protocol error: a frame of \(length) bytes"
                }
                guard buffer.count - start >= 4 + length else { break }
                let kind = Kind(rawValue: (try? header.u8()) ?? 0)
                let fdCount = Int((try? header.u8()) ?? 0)
                let method = (try? header.u16()) ?? 0
                let sequence = (try? header.u32()) ?? 0
                guard let kind, fdCount <= received.count else { return "protocol error: a bad frame header" }
                let fds = Array(received.prefix(fdCount))
                received.removeFirst(fdCount)
                let message = Message(method: method, payload: Array(buffer[start + PluginChannel.headerSize..<start + 4 + length]),
                                      fds: fds, sequence: sequence)
                start += 4 + length
                switch kind {
                case .call: onCall(message)
                case .reply: resolve(sequence, .success(message))
                case .note: onNote(message)
                }
            }
            if start > 0 { buffer.removeFirst(start) }
        }
    }

    // MARK: SCM_RIGHTS arithmetic (the CMSG_* macros are not imported into Swift)

    private static func align(_ n: Int) -> Int { (n + MemoryLayout<Int>.size - 1) & ~(MemoryLayout<Int>.size - 1) }
    static func controlLength(_ count: Int) -> Int { align(MemoryLayout<cmsghdr>.stride) + count * MemoryLayout<Int32>.size }
    static func controlSpace(_ count: Int) -> Int { align(MemoryLayout<cmsghdr>.stride) + align(count * MemoryLayout<Int32>.size) }

    private static func descriptors(in msg: inout msghdr) -> [Int32] {
        guard let base = msg.msg_control, msg.msg_controllen >= MemoryLayout<cmsghdr>.stride else { return [] }
        var fds: [Int32] = []
        var offset = 0
        while offset + MemoryLayout<cmsghdr>.stride <= msg.msg_controllen {
            let header = (base + offset).assumingMemoryBound(to: cmsghdr.self).pointee
            guard header.cmsg_len >= MemoryLayout<cmsghdr>.stride else { break }
            if header.cmsg_level == SOL_SOCKET && header.cmsg_type == Int32(SCM_RIGHTS) {
                let count = (Int(header.cmsg_len) - align(MemoryLayout<cmsghdr>.stride)) / MemoryLayout<Int32>.size
                let data = base + offset + align(MemoryLayout<cmsghdr>.stride)
                for i in 0..<count { fds.append(data.load(fromByteOffset: i * 4, as: Int32.self)) }
            }
            offset += align(Int(header.cmsg_len))
        }
        return fds
    }
}

/// sendmsg without SIGPIPE: a plugin host that died must end the connection, not the daemon.
private func sendWithoutSignal(_ fd: Int32, _ msg: UnsafePointer<msghdr>) -> Int {
    sendmsg(fd, msg, Int32(MSG_NOSIGNAL))
}
