// Drift detection in the cloud: telemetry sketches merged per model version and fleet slice, judged
// against the version's reference profile, stored as drift reports.

export {
  activateBaseline,
  type BaselineKey,
  DEFAULT_BASELINE_SAMPLES,
  type DriftBaseline,
  listBaselines,
  removeBaseline,
  requestBaseline,
} from './baselines.ts';
export {
  DriftMonitor,
  type DriftMonitorOptions,
  type DriftScopeKind,
  recentDriftReports,
  type StoredDriftReport,
} from './drift-monitor.ts';
