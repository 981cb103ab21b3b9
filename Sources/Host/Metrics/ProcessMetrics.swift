import CoreMetrics

/// The `process_*` gauges and the CPU counter, set from one `ProcessStats` reading per scrape.
final class ProcessMetrics: Sendable {
    private let resident: Gauge
    private let virtual: Gauge
    private let cpu: TotalFollower
    private let startTime: Gauge
    private let openFDs: Gauge
    private let maxFDs: Gauge

    init(factory: any MetricsFactory) {
        resident = Gauge(label: MetricName.residentMemory, factory: factory)
        virtual = Gauge(label: MetricName.virtualMemory, factory: factory)
        cpu = TotalFollower(label: MetricName.cpuSeconds, fractional: true, factory: factory)
        startTime = Gauge(label: MetricName.startTime, factory: factory)
        openFDs = Gauge(label: MetricName.openFDs, factory: factory)
        maxFDs = Gauge(label: MetricName.maxFDs, factory: factory)
    }

    func observe(_ stats: ProcessStats) {
        resident.record(stats.residentBytes)
        virtual.record(stats.virtualBytes)
        cpu.follow(stats.cpuSeconds)
        startTime.record(stats.startTime)
        openFDs.record(stats.openFDs)
        // "unlimited" (Linux caps open files anyway) as RLIM_INFINITY, the value the Go client reports.
        maxFDs.record(stats.maxFDs.map(Double.init) ?? Double(UInt64.max))
    }
}
