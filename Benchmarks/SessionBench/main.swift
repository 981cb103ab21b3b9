// speakerbridge-bench: the numbers the README quotes for the MQTT session and the plugin host, each beside a baseline
// measured in the same run on the same machine.
//
//   speakerbridge-bench --daemon PATH [--quick] [--only reconnect|failover|intake|idle|startup|swap|ffi|reload-rss|announce|sonos|sonos-scale|isolation[,...]]
//
// All traffic stays on 127.0.0.1: every broker is a LabKit MosquittoBroker bound to loopback, and
// every client (TestClient, mosquitto_sub, mosquitto_pub, the daemon) connects to 127.0.0.1.
// The one exception is `sonos` (SonosBench.swift): its SSDP/UPnP parts run inside network
// namespaces it creates and removes (RendererLab), and are skipped when not root.
// Progress goes to stderr; the results (plain table, then a markdown table) go to stdout.
import Foundation
import LabKit
#if canImport(Glibc)
import Glibc
#endif

// MARK: arguments (by hand: no argument parser dependency)

let benchNames = ["reconnect", "failover", "intake", "idle", "startup", "swap", "ffi", "reload-rss", "announce", "sonos", "sonos-scale", "isolation"]
let usage = """
    usage: speakerbridge-bench --daemon PATH [--quick] [--only NAMES]
      --daemon PATH  the speakerbridge binary to measure (a release build)
      --quick        smaller counts, for a smoke run
      --only NAMES   run only these benchmarks (comma-separated): \(benchNames.joined(separator: ", "))
    """

func die(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(2)
}

var daemonPath: String?
var quick = false
var only: Set<String>?
do {
    var args = CommandLine.arguments.dropFirst()
    while let arg = args.popFirst() {
        switch arg {
        case "--daemon":
            guard let v = args.popFirst() else { die("--daemon needs a path\n" + usage) }
            daemonPath = v
        case "--quick": quick = true
        case "--only":
            // A list, so related figures can be run together (reconnect,failover).
            let names = args.popFirst().map { $0.split(separator: ",").map(String.init) } ?? []
            guard !names.isEmpty, names.allSatisfy(benchNames.contains) else {
                die("--only needs one or more (comma-separated) of: \(benchNames.joined(separator: ", "))\n" + usage)
            }
            only = Set(names)
        case "-h", "--help":
            print(usage)
            exit(0)
        default: die("unknown argument \(arg)\n" + usage)
        }
    }
}
guard let daemonPath else { die("--daemon is required\n" + usage) }
guard FileManager.default.isExecutableFile(atPath: daemonPath) else { die("--daemon \(daemonPath) is not executable") }
// DaemonProcess finds the binary through SPEAKERBRIDGE_BIN.
setenv("SPEAKERBRIDGE_BIN", daemonPath, 1)
signal(SIGPIPE, SIG_IGN)

// MARK: results

struct Row {
    var metric: String
    var value: String
    var baseline: String
    var target: String
    var verdict: String
}

var rows: [Row] = []
var notes: [String] = []
/// Printed before the table: something the numbers alone would hide (lost or doubled answers).
var warnings: [String] = []
var failures = 0

func verdict(_ ok: Bool) -> String { ok ? "PASS" : "MISS" }

// MARK: run

let started = ContinuousClock.now
let mosquittoVersion = ((try? Shell.run(["mosquitto", "-h"]))?.out ?? "").split(separator: "\n").first.map(String.init) ?? "?"
let cpus = ProcessInfo.processInfo.activeProcessorCount
print("speakerbridge session and plugin benchmarks\(quick ? " (--quick)" : "")")
print("daemon: \(daemonPath)")
print("host: \(cpus) CPU(s), \(mosquittoVersion), all traffic on 127.0.0.1 (sonos: SSDP/UPnP inside its own network namespaces)")
print("")

let plan: [(String, () throws -> Void)] = [
    ("reconnect", { try benchReconnect(rounds: quick ? 3 : 10) }),
    ("failover", { try benchFailover(rounds: quick ? 3 : 10) }),
    ("intake", { try benchIntake(n: quick ? 3000 : 20000) }),
    ("idle", { try benchIdle(window: quick ? 3 : 10) }),
    ("startup", { try benchStartup(runs: quick ? 3 : 5) }),
    ("swap", { try benchSwap(reloads: quick ? 10 : 50, rate: 200) }),
    ("ffi", { try benchFFI(quick: quick) }),
    ("reload-rss", { try benchReloadRSS(rounds: quick ? 10 : 50) }),
    ("announce", { try benchAnnounce(n: quick ? 8 : 30) }),
    ("sonos", { try benchSonos(quick: quick) }),
    ("sonos-scale", { try benchSonosScale(quick: quick) }),
    ("isolation", { try benchIsolation(quick: quick) }),
]
for (name, run) in plan where only?.contains(name) ?? true {
    do {
        try run()
    } catch {
        failures += 1
        rows.append(Row(metric: name, value: "ERROR: \(error)", baseline: "", target: "", verdict: "ERROR"))
    }
}

for w in warnings { print("WARNING: \(w)") }
if !warnings.isEmpty { print("") }

// Plain table, aligned.
let header = Row(metric: "Measurement", value: "speakerbridge", baseline: "Baseline (same run)", target: "Target", verdict: "Verdict")
func cells(_ r: Row) -> [String] { [r.metric, r.value, r.baseline, r.target, r.verdict] }
let all = [header] + rows
let widths = (0..<5).map { i in all.map { cells($0)[i].split(separator: "\n").first.map(\.count) ?? 0 }.max() ?? 0 }
func line(_ r: Row) -> String {
    zip(cells(r), widths).map { c, w in
        let first = String(c.split(separator: "\n").first ?? "")
        return first.padding(toLength: w, withPad: " ", startingAt: 0)
    }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
}
print(line(header))
print(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
for r in rows { print(line(r)) }
print("")
for n in notes { print("note: \(n)") }
print("")
print("Markdown:")
print("")
print("| Measurement | speakerbridge | Baseline (same run) | Target | Verdict |")
print("|---|---|---|---|---|")
for r in rows {
    let cs = cells(r).map { $0.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }
    print("| " + cs.joined(separator: " | ") + " |")
}
print("")
print("total bench time: \(fmt(seconds(ContinuousClock.now - started), 0)) s")
exit(failures == 0 ? 0 : 1)
