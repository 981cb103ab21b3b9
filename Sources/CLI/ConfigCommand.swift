import ArgumentParser
import Foundation
import SpeakerbridgeHost

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Work with the configuration.", subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Report every problem in the configuration (file, environment, flags) with its key and line.")

        @OptionGroup var options: ConfigOptions

        @Flag(help: "Also print the effective settings (secrets redacted).")
        var print = false

        func run() throws {
            let env = ProcessInfo.processInfo.environment
            let problems = ConfigLoader.check(file: options.file, environment: env, flags: try options.flags())
            if !problems.isEmpty {
                for p in problems { FileHandle.standardError.write(Data("\(p)\n".utf8)) }
                FileHandle.standardError.write(Data("\(problems.count) problem\(problems.count == 1 ? "" : "s")\n".utf8))
                throw ExitCode(1)
            }
            let config = try ConfigLoader.load(file: options.file, environment: env, flags: try options.flags())
            if print { for line in ConfigLoader.describe(config) { Swift.print(line) } }
            Swift.print("configuration OK" + (options.file.map { " (\($0))" } ?? " (defaults, environment and flags)"))
        }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")
    func run() { print("speakerbridge \(SpeakerbridgeVersion.current)") }
}
