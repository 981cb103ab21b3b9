import ArgumentParser
import Foundation
import SpeakerbridgeHost

/// `speakerbridge doctor`: reads the configuration `run` reads, tries the broker, asks the running
/// daemon, checks this machine, and prints one verdict per check with the fix.
struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check the setup and explain each problem with its fix; exit 0 unless a check FAILs (warnings do not fail).")

    @OptionGroup var options: ConfigOptions

    @Flag(help: "Print the report as JSON.")
    var json = false

    @Option(help: "Seconds to wait for each answer of the daemon.")
    var timeout: Double = 3

    func run() async throws {
        let report: DoctorReport
        do {
            let config = try ConfigLoader.load(file: options.file, environment: ProcessInfo.processInfo.environment, flags: try options.flags())
            let brokers = BrokerProbe.runAll(config)
            // The questions go through the first broker that works, as the one-shot clients do.
            let daemon = brokers.contains { $0.outcome == .connected }
                ? DoctorQuestions.ask(config, timeout: timeout)
                : DaemonAnswers(notAsked: "the broker could not be used (see broker)")
            report = Doctor.report(config: config, file: options.file, brokers: brokers, daemon: daemon)
        } catch let error as ConfigError {
            report = Doctor.report(configurationProblems: error.description)
        }
        print(json ? report.json.serialized() : report.text)
        if report.failed { throw ExitCode(report.exitStatus) }
    }
}
