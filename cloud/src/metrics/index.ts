// Prometheus: fleet gauges computed at scrape time, the /metrics route, and an exposition parser
// used by the tests that keep the dashboard and alert rules honest.
export { type ExpositionError, type MetricFamily, parseExposition } from './exposition.ts';
export { FleetMetrics, type FleetMetricsOptions, LATENCY_QUANTILES } from './fleet-metrics.ts';
export { foldLabel, OTHER_LABEL } from './label-bounds.ts';
export { metricsRoute } from './metrics-route.ts';
