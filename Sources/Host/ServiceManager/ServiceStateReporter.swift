import ServiceLifecycle

/// Tells the service manager how the daemon is doing: `READY=1` once the broker session is up and
/// the plugins are loaded, a `STATUS=` line whenever it changes, `STOPPING=1` when the shutdown
/// begins. Run it as the last service of the group: services stop in reverse order, so it hears
/// of a shutdown first.
public final class ServiceStateReporter: Service, Sendable {
    private let notifier: ServiceNotifier
    private let current: @Sendable () -> ServiceStatusLine
    private let changes: AsyncStream<Void>
    private let waitsFor: [Readiness<Void>]
    private let refresh: Duration

    /// `current` is read whenever `changes` rings (the session's status), each of `waitsFor` opens
    /// (the first plugin load), and every `refresh` (speakers come and go without a ring).
    public init(notifier: ServiceNotifier, current: @escaping @Sendable () -> ServiceStatusLine,
                changes: AsyncStream<Void>, waitsFor: [Readiness<Void>], refresh: Duration = .seconds(5)) {
        self.notifier = notifier
        self.current = current
        self.changes = changes
        self.waitsFor = waitsFor
        self.refresh = refresh
    }

    public func run() async throws {
        let (ticks, tick) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        await withDiscardingTaskGroup { group in
            group.addTask { [changes] in
                for await _ in changes { tick.yield() }
            }
            for readiness in waitsFor {
                group.addTask {
                    _ = try? await readiness.wait()
                    tick.yield()
                }
            }
            group.addTask { [refresh] in
                while (try? await Task.sleep(for: refresh)) != nil { tick.yield() }
            }
            tick.yield()
            await withGracefulShutdownHandler {
                for await _ in ticks.cancelOnGracefulShutdown() { report() }
            } onGracefulShutdown: { [notifier] in
                notifier.stopping()
            }
            group.cancelAll()
        }
    }

    private func report() {
        let line = current()
        if line.isReady && waitsFor.allSatisfy(\.isReady) {
            notifier.ready(status: line.text)
        }
        notifier.status(line.text)
    }
}
