import ArgumentParser
import Foundation
import SpeakerbridgeHost

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon (with an embedded broker on 127.0.0.1 when no broker is configured).")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = try options.loadOrFail()
        let logLines = LogLines()
        let logger = makeLogger(config, lines: logLines)
        // Past a file size limit (ulimit -f) a journal append must fail with EFBIG, which the
        // journal cuts back and refuses, instead of the default SIGXFSZ killing the daemon.
        signal(SIGXFSZ, SIG_IGN)
        do {
            try await Daemon.run(config: config, logger: logger, logLines: logLines)
        } catch let error as StateDirectory.LockedError {
            throw fail(error.description)
        } catch let error as EmbeddedBrokerError {
            throw fail(error.description)
        }
    }
}
