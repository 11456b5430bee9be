// Alerts: conditions an on-call engineer should see (devices offline, error-rate spikes, stuck
// rollouts, drift), evaluated on an interval into the `alerts` table, with events and a gauge.
export {
  ALERT_KINDS,
  ALERT_OPENED_EVENT,
  ALERT_RESOLVED_EVENT,
  ALERT_SEVERITIES,
  type AlertKind,
  type AlertRecord,
  type AlertSeverity,
  type FiringAlert,
} from './alert.ts';
export { alertMetrics } from './alert-metrics.ts';
export { AlertEvaluator, type AlertEvaluatorOptions, type AlertTick } from './evaluator.ts';
export { type AlertFilter, type AlertState, listAlerts } from './store.ts';
/** Test seeds (drift reports as the DriftMonitor stores them), for the dashboard's browser test. */
export { type DriftSeed, driftReport, insertDriftReports } from './testing.ts';
export {
  type AlertThresholds,
  type AlertThresholdsInput,
  alertThresholdsSchema,
  DEFAULT_ALERT_THRESHOLDS,
} from './thresholds.ts';
