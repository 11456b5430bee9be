// Fleet gauges for Prometheus, computed at scrape time from the database. Several Prometheus
// servers (or one with a short interval) must not turn into several identical queries each: one
// snapshot is shared by all gauges and reused for `cacheMs`. No per-device labels: the largest
// label sets are device class × group (folded past `maxGroups`) and model versions in use.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Db } from '../db/index.ts';
import { histogramQuantile } from '../ingest/latency-histogram.ts';
import { type Logger, silentLogger } from '../mqtt/observability.ts';
import { type FleetSnapshot, readFleetSnapshot } from './fleet-queries.ts';
import { foldLabel } from './label-bounds.ts';

export interface FleetMetricsOptions {
  db: Db;
  registry: Registry;
  /** Snapshot reuse (default 5 s). */
  cacheMs?: number;
  /** Telemetry window the latency and error gauges cover (default 300 s). */
  recentSeconds?: number;
  /** Distinct group label values before folding into `other` (default 50). */
  maxGroups?: number;
  logger?: Logger;
  now?: () => number;
}

/** Quantiles of the latency gauge. */
export const LATENCY_QUANTILES = [0.5, 0.95, 0.99] as const;

export class FleetMetrics {
  private cached: { at: number; snapshot: Promise<FleetSnapshot | undefined> } | undefined;
  private readonly now: () => number;
  private readonly logger: Logger;
  private readonly collectErrors: Counter;
  private readonly drift: Gauge<'model' | 'version' | 'feature'>;

  constructor(private readonly options: FleetMetricsOptions) {
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? silentLogger;
    const registers = [options.registry];
    const recent = options.recentSeconds ?? 300;
    const maxGroups = options.maxGroups ?? 50;
    const self = this;
    this.collectErrors = new Counter({
      name: 'edgeloop_metrics_collect_errors_total',
      help: 'Scrapes whose fleet snapshot could not be read from the database',
      registers,
      // Collected after this scrape's snapshot settles, so a failure shows in the same scrape.
      async collect() {
        await self.snapshot();
      },
    });
    new Gauge({
      name: 'edgeloop_fleet_devices',
      help: 'Provisioned devices by connection state (online, offline, unknown), device class and group',
      labelNames: ['connection', 'device_class', 'group'],
      registers,
      async collect() {
        const snapshot = await self.snapshot();
        this.reset();
        const rows = (snapshot?.devices ?? []).map((d) => ({
          labels: { connection: d.connection, device_class: d.deviceClass, group: d.group },
          value: d.count,
        }));
        for (const r of foldLabel(rows, 'group', maxGroups)) this.set(r.labels, r.value);
      },
    });
    new Gauge({
      name: 'edgeloop_fleet_active_model_devices',
      help: 'Devices by the model version they report active (none: no model yet)',
      labelNames: ['model', 'version', 'variant'],
      registers,
      async collect() {
        const snapshot = await self.snapshot();
        this.reset();
        for (const m of snapshot?.activeModels ?? [])
          this.set({ model: m.model, version: m.version, variant: m.variant }, m.count);
      },
    });
    new Gauge({
      name: 'edgeloop_fleet_inference_latency_ms',
      help: `Inference latency quantiles over the last ${recent} s of telemetry, by model version and device class (merged histograms)`,
      labelNames: ['model', 'version', 'device_class', 'quantile'],
      registers,
      async collect() {
        const snapshot = await self.snapshot();
        this.reset();
        for (const t of snapshot?.telemetry ?? []) {
          for (const q of LATENCY_QUANTILES) {
            const value = histogramQuantile(t.latencyHist, q);
            if (value !== null)
              this.set(
                { model: t.model, version: t.version, device_class: t.deviceClass, quantile: String(q) },
                value,
              );
          }
        }
      },
    });
    new Gauge({
      name: 'edgeloop_fleet_inferences',
      help: `Inferences reported in the last ${recent} s, by model version and device class`,
      labelNames: ['model', 'version', 'device_class'],
      registers,
      async collect() {
        const snapshot = await self.snapshot();
        this.reset();
        for (const t of snapshot?.telemetry ?? [])
          this.set({ model: t.model, version: t.version, device_class: t.deviceClass }, t.inferences);
      },
    });
    new Gauge({
      name: 'edgeloop_fleet_error_ratio',
      help: `Failed inferences / inferences over the last ${recent} s, by model version and device class`,
      labelNames: ['model', 'version', 'device_class'],
      registers,
      async collect() {
        const snapshot = await self.snapshot();
        this.reset();
        for (const t of snapshot?.telemetry ?? []) {
          if (t.inferences > 0)
            this.set(
              { model: t.model, version: t.version, device_class: t.deviceClass },
              t.errors / t.inferences,
            );
        }
      },
    });
    new Gauge({
      name: 'edgeloop_rollouts',
      help: 'Rollouts by status (running, paused, completed, aborted, rolled_back)',
      labelNames: ['status'],
      registers,
      async collect() {
        const snapshot = await self.snapshot();
        this.reset();
        for (const r of snapshot?.rollouts ?? []) this.set({ status: r.status }, r.count);
      },
    });
    new Gauge({
      name: 'edgeloop_rollout_max_idle_seconds',
      help: 'Longest time any running rollout has gone without a state change (0 when none runs)',
      registers,
      async collect() {
        const snapshot = await self.snapshot();
        this.set(snapshot?.rolloutMaxIdleSeconds ?? 0);
      },
    });
    this.drift = new Gauge({
      name: 'edgeloop_drift_score',
      help: 'Latest drift statistic (PSI) per model version and feature, set by the drift detector',
      labelNames: ['model', 'version', 'feature'],
      registers,
    });
  }

  /** For the drift detector: the latest score of one feature of one model version. */
  setDriftScore(model: string, version: string, feature: string, score: number): void {
    this.drift.set({ model, version, feature }, score);
  }

  /** One database read per `cacheMs`, shared by every gauge of a scrape; undefined if it failed. */
  private snapshot(): Promise<FleetSnapshot | undefined> {
    const now = this.now();
    if (this.cached && now - this.cached.at < (this.options.cacheMs ?? 5_000)) return this.cached.snapshot;
    const snapshot = readFleetSnapshot(this.options.db, this.options.recentSeconds ?? 300).catch(
      (err: unknown) => {
        this.collectErrors.inc();
        this.logger.error(
          { event: 'metrics.fleet_snapshot_failed', err: String(err) },
          'fleet metrics unavailable',
        );
        // Do not cache a failure: the next scrape tries again.
        this.cached = undefined;
        return undefined;
      },
    );
    this.cached = { at: now, snapshot };
    return snapshot;
  }
}
