import ArgumentParser
import Foundation
import SpeakerbridgeHost

struct Soak: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stability test: announcements at a steady rate, optionally through broker restarts and daemon kills; exit 1 if any was lost or duplicated.",
        discussion: "Against the running daemon of the configuration (like say and health), or with --start-daemon a private broker and daemon (this binary) that it may restart and kill. The report's fields are described in the README, \"Soak test\".")

    @OptionGroup var options: ConfigOptions

    @Option(help: "How long to publish, e.g. 30s, 5m.")
    var duration: String = "5m"

    @Option(help: "Announcements per second, e.g. 5 or 5/s.")
    var rate: String = "2/s"

    @Option(help: "Comma-separated speaker names or ids (default: every log speaker of the daemon).")
    var speakers: String?

    @Option(help: "QoS of the announcements: 0, 1 or mix (alternating).")
    var qos: String = "mix"

    @Option(help: "Restart the broker about every S seconds (±25 %; needs --start-daemon).")
    var restartBrokerEvery: String?

    @Option(help: "kill -9 the daemon about every S seconds and start it again (±25 %; needs --start-daemon).")
    var killDaemonEvery: String?

    @Flag(help: "Broker restarts and daemon kills at random, each every 10-30 s (needs --start-daemon).")
    var chaos = false

    @Flag(help: "Start a private broker (127.0.0.1, generated password) and daemon with a private state directory.")
    var startDaemon = false

    @Option(help: "Plugin folder for --start-daemon (default: the configured plugins.path).")
    var plugins: String?

    @Option(help: "Seconds to wait for the final events after the last publish.")
    var drain: String = "60s"

    @Flag(help: "Keep the private directory of --start-daemon even when the soak passes.")
    var keep = false

    @Flag(help: "Print the report as JSON.")
    var json = false

    func seconds(_ text: String, _ name: String) throws -> Double {
        guard let value = SoakRun.parseSeconds(text), value > 0 else { throw ValidationError("\(name) takes a duration like 30s or 5m, got \(text)") }
        return value
    }

    func validate() throws {
        _ = try seconds(duration, "--duration")
        _ = try seconds(drain, "--drain")
        guard let r = SoakRun.parseRate(rate), r > 0 else { throw ValidationError("--rate takes a number per second like 5 or 5/s, got \(rate)") }
        guard SoakRun.QoSMix(rawValue: qos) != nil else { throw ValidationError("--qos must be 0, 1 or mix") }
        if chaos && (restartBrokerEvery != nil || killDaemonEvery != nil) {
            throw ValidationError("--chaos picks its own intervals; give it alone or use --restart-broker-every/--kill-daemon-every")
        }
        if (chaos || restartBrokerEvery != nil || killDaemonEvery != nil) && !startDaemon {
            throw ValidationError("restarting the broker or killing the daemon needs --start-daemon: soak only disturbs what it started itself")
        }
        if let restartBrokerEvery { _ = try seconds(restartBrokerEvery, "--restart-broker-every") }
        if let killDaemonEvery { _ = try seconds(killDaemonEvery, "--kill-daemon-every") }
    }

    func run() async throws {
        let config = try options.loadOrFail()
        var settings = SoakRun.Settings()
        settings.duration = try seconds(duration, "--duration")
        settings.rate = SoakRun.parseRate(rate) ?? 2
        settings.speakers = (speakers ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        settings.qos = SoakRun.QoSMix(rawValue: qos) ?? .mix
        settings.restartBrokerEvery = try restartBrokerEvery.map { try seconds($0, "--restart-broker-every") }
        settings.killDaemonEvery = try killDaemonEvery.map { try seconds($0, "--kill-daemon-every") }
        settings.chaos = chaos
        settings.drain = try seconds(drain, "--drain")
        settings.startDaemon = startDaemon
        settings.pluginPath = plugins ?? config.pluginDirectories.joined(separator: ":")
        settings.daemonSettings = try options.flags().filter { !["mqtt.host", "mqtt.port", "mqtt.brokers", "state_dir"].contains($0.key) }
        settings.keep = keep

        let tty = isatty(STDERR_FILENO) == 1
        let output = SoakRun.Output(
            progress: { line in
                FileHandle.standardError.write(Data((tty ? "\r\u{1B}[K" + line : line + "\n").utf8))
            },
            note: { line in
                FileHandle.standardError.write(Data(((tty ? "\r\u{1B}[K" : "") + line + "\n").utf8))
            })
        let report: SoakReport
        do {
            report = try SoakRun(settings: settings, config: config, output: output).run()
        } catch let error as SoakRun.Failure {
            throw fail(error.description)
        }
        if tty { FileHandle.standardError.write(Data("\n".utf8)) }
        print(json ? report.json.serialized() : report.text)
        if !report.passed { throw ExitCode(1) }
    }
}
