import CommandFixtures
import Foundation
import LabKit
import SpeakerbridgeHost
#if canImport(Glibc)
import Glibc
#endif

// MARK: 6. typed-command dispatch through libffi

/// libc's memset found at run time, so the optimizer cannot see that the zeroed bytes are never read
/// (a plain memset loop on a buffer nobody reads is deleted outright).
let opaqueMemset: @convention(c) (UnsafeMutableRawPointer?, Int32, Int) -> UnsafeMutableRawPointer? = {
    guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "memset") else { fatalError("no memset") }
    return unsafeBitCast(sym, to: (@convention(c) (UnsafeMutableRawPointer?, Int32, Int) -> UnsafeMutableRawPointer?).self)
}()

@MainActor func benchFFI(quick: Bool) throws {
    let directN = 1_000_000, invokerN = quick ? 50_000 : 200_000, reps = quick ? 3 : 7
    progress("ffi: fx_direct_loop(\(directN)) vs CommandInvoker.call on fx_bench_volume (n=\(invokerN)), \(reps) rounds")
    guard let command = fx_command("bench_volume")?.pointee, let function = command.function else {
        throw LabError("fx_command(\"bench_volume\") not found")
    }
    let invoker = try CommandInvoker(signature: CommandSignature.parse(String(cString: command.signature)),
                                     function: unsafeBitCast(function, to: UnsafeRawPointer.self))
    let arguments = try invoker.signature.bind(["speaker": "kitchen", "level": 50])
    let json: [String: JSONValue] = ["speaker": "kitchen", "level": 50]

    /// ns per call of `body` run `n` times; checks that the fixture saw exactly `n` calls.
    func time(_ name: String, _ n: Int, _ body: (Int) throws -> Int32) throws -> Double {
        fx_reset()
        var bad = 0
        let t0 = ContinuousClock.now
        for _ in 0..<n {
            if try body(n) != 0 { bad += 1 }
        }
        let dt = seconds(ContinuousClock.now - t0)
        guard bad == 0, fx_last().pointee.calls == UInt64(n) else {
            throw LabError("\(name): \(fx_last().pointee.calls) fixture calls for \(n), \(bad) not SB_OK")
        }
        return dt * 1e9 / Double(n)
    }
    var direct: [Double] = [], pre4096: [Double] = [], pre256: [Double] = [], bind4096: [Double] = [], bind256: [Double] = [], zero: [Double] = []
    let zeroBuffer = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 16)
    defer { zeroBuffer.deallocate() }
    for round in 0...reps {  // round 0 warms up and is discarded
        fx_reset()
        let t0 = ContinuousClock.now
        let ok = fx_direct_loop(UInt64(directN))
        let dt = seconds(ContinuousClock.now - t0)
        guard ok == directN, fx_last().pointee.calls == UInt64(directN) else { throw LabError("fx_direct_loop: \(ok) of \(directN)") }
        let d = dt * 1e9 / Double(directN)
        let p4 = try time("prebound 4096", invokerN) { _ in invoker.call(instance: nil, arguments: arguments, replyCapacity: 4096).status }
        let p2 = try time("prebound 256", invokerN) { _ in invoker.call(instance: nil, arguments: arguments, replyCapacity: 256).status }
        let b4 = try time("bind 4096", invokerN) { _ in try invoker.call(instance: nil, json: json, replyCapacity: 4096).status }
        let b2 = try time("bind 256", invokerN) { _ in try invoker.call(instance: nil, json: json, replyCapacity: 256).status }
        let z0 = ContinuousClock.now
        for _ in 0..<directN { _ = opaqueMemset(zeroBuffer, 0, 4096) }
        let z = seconds(ContinuousClock.now - z0) * 1e9 / Double(directN)
        if round > 0 {
            direct.append(d); pre4096.append(p4); pre256.append(p2); bind4096.append(b4); bind256.append(b2); zero.append(z)
        }
    }
    func ns(_ xs: [Double]) -> String { "\(fmt(median(xs), 1)) ns/call (min \(fmt(xs.min()!, 1)))" }
    let directText = "direct C call (fx_direct_loop, n=\(directN)): " + ns(direct)
    rows.append(Row(metric: "Typed command via libffi, pre-bound args, reply 4096 B", value: ns(pre4096) + ", \(fmt(median(pre4096) / median(direct), 0)) x direct",
                    baseline: directText, target: "none", verdict: "n/a"))
    rows.append(Row(metric: "Typed command via libffi, pre-bound args, reply 256 B", value: ns(pre256) + ", \(fmt(median(pre256) / median(direct), 0)) x direct",
                    baseline: directText, target: "none", verdict: "n/a"))
    rows.append(Row(metric: "Typed command via libffi, bind from JSON + call, reply 4096 B", value: ns(bind4096),
                    baseline: directText, target: "none", verdict: "n/a"))
    rows.append(Row(metric: "Typed command via libffi, bind from JSON + call, reply 256 B", value: ns(bind256),
                    baseline: directText, target: "none", verdict: "n/a"))
    notes.append("ffi: in-process, fx_bench_volume(\"kitchen\", 50, ramp default) (records the level, writes no reply). medians of \(reps) rounds "
        + "(plus one discarded warm-up), variants interleaved per round; invoker n=\(invokerN), direct n=\(directN). Reply buffers differ: "
        + "fx_direct_loop reuses one 4096 B stack buffer and clears only reply[0] per call; CommandInvoker.call zeroes the whole "
        + "replyCapacity per call (plus a temporary block for argument slots and the string copy), scans it for the NUL and builds a String. "
        + "memset of 4096 B alone on this machine: \(fmt(median(zero), 1)) ns (median of \(reps) x \(directN)). "
        + "Bind from JSON = signature.bind on a prebuilt [String: JSONValue] (no JSON text parsing).")
}
