import Prometheus

/// The daemon's metrics with the Prometheus registry they are recorded into: made once by the
/// composition root, which hands `metrics` to the parts that record and the whole to the admin
/// listener that renders it. No global `MetricsSystem` is touched.
public struct PrometheusExport: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let metrics: DaemonMetrics

    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = DaemonMetrics.durationBuckets
        metrics = DaemonMetrics(factory: factory)
    }
}
