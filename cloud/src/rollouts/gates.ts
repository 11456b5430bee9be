// Health gates: a wave's devices on the new model against the rollout's devices still on the old
// one, over the same stretch of time. `evaluateGates` is pure; where the numbers come from is the
// `RolloutTelemetry` interface, so the in-memory window kept here (fed by the bridge's `telemetry`
// events) can be replaced by the ingestion rollups without touching the rules.
import { type ReferenceProfile, type TelemetryWindow, WindowSketch } from '@edgeloop/shared';
import type { DriftSample } from './drift-gate.ts';
import type { Gates } from './policy.ts';
import { mergeShadowSamples, type ShadowResult, type ShadowSample } from './shadow.ts';

/** A cohort's telemetry merged over a period. */
export interface CohortHealth {
  devices: number;
  windows: number;
  inferences: number;
  errors: number;
  /** Inference-weighted mean of the windows' p95 (ms): mergeable, not a true quantile. */
  p95LatencyMs: number | null;
  /** Inference-weighted mean of the windows' mean top-1 confidence. */
  meanConfidence: number | null;
  /** Predicted-class counts by class index. */
  classCounts: number[];
}

export interface CohortQuery {
  deviceIds: readonly string[];
  /** Window ends in [since, until] (epoch ms) count. */
  since: number;
  until: number;
  /** Windows of this model version (`this`) or of any other version of the model (`other`). */
  model: { name: string; version: string; match: 'this' | 'other' };
}

/** Where gate inputs come from. */
export interface RolloutTelemetry {
  cohortHealth(query: CohortQuery): Promise<CohortHealth>;
  /** The cohort's window sketches merged in `profile`'s bins (the drift gate's input). */
  driftSample(query: CohortQuery, profile: ReferenceProfile): Promise<DriftSample>;
  /** What the cohort reported about a shadow model (`query.model`, match `this`: the shadow's version). */
  shadowHealth(query: CohortQuery): Promise<ShadowResult>;
}

export type GateName = 'errorRate' | 'p95Latency' | 'confidence' | 'predictionShift' | 'drift';

export interface GateResult {
  gate: GateName;
  verdict: 'pass' | 'fail' | 'inconclusive';
  reason: string;
  candidate: number | null;
  baseline: number | null;
}

export const emptyHealth = (): CohortHealth => ({
  devices: 0,
  windows: 0,
  inferences: 0,
  errors: 0,
  p95LatencyMs: null,
  meanConfidence: null,
  classCounts: [],
});

/** Merges windows into one cohort summary. */
export function mergeWindows(windows: readonly TelemetryWindow[]): CohortHealth {
  const health = emptyHealth();
  const devices = new Set<string>();
  let latencyWeight = 0;
  let latencySum = 0;
  let confidenceWeight = 0;
  let confidenceSum = 0;
  for (const w of windows) {
    devices.add(w.deviceId);
    health.windows++;
    health.inferences += w.inferences;
    health.errors += w.errors;
    if (w.latencyMs && w.latencyMs.count > 0) {
      latencyWeight += w.latencyMs.count;
      latencySum += w.latencyMs.p95 * w.latencyMs.count;
    }
    if (w.meanConfidence !== null && w.inferences > 0) {
      confidenceWeight += w.inferences;
      confidenceSum += w.meanConfidence * w.inferences;
    }
    w.classCounts.forEach((c, i) => {
      health.classCounts[i] = (health.classCounts[i] ?? 0) + c;
    });
  }
  health.devices = devices.size;
  health.p95LatencyMs = latencyWeight > 0 ? latencySum / latencyWeight : null;
  health.meanConfidence = confidenceWeight > 0 ? confidenceSum / confidenceWeight : null;
  return health;
}

/** Jensen-Shannon divergence of two count vectors, base 2 (0 = same distribution, 1 = disjoint). */
export function jensenShannon(a: readonly number[], b: readonly number[]): number {
  const n = Math.max(a.length, b.length);
  const sa = a.reduce((s, x) => s + x, 0);
  const sb = b.reduce((s, x) => s + x, 0);
  if (sa === 0 || sb === 0) return 0;
  let divergence = 0;
  for (let i = 0; i < n; i++) {
    const p = (a[i] ?? 0) / sa;
    const q = (b[i] ?? 0) / sb;
    const m = (p + q) / 2;
    if (p > 0) divergence += 0.5 * p * Math.log2(p / m);
    if (q > 0) divergence += 0.5 * q * Math.log2(q / m);
  }
  return Math.min(1, Math.max(0, divergence));
}

const fmt = (n: number) => (Math.abs(n) >= 10 ? n.toFixed(1) : n.toFixed(3));

export function evaluateGates(gates: Gates, candidate: CohortHealth, baseline: CohortHealth): GateResult[] {
  const results: GateResult[] = [];
  const enough = candidate.inferences >= gates.minInferences && baseline.inferences >= gates.minInferences;
  const thin = `too little data (${candidate.inferences} new / ${baseline.inferences} old inferences, need ${gates.minInferences} each)`;
  const judge = (
    gate: GateName,
    values: [number | null, number | null],
    failed: (c: number, b: number) => boolean,
    describe: (c: number, b: number) => string,
  ) => {
    const [c, b] = values;
    if (!enough || c === null || b === null) {
      results.push({ gate, verdict: 'inconclusive', reason: `${gate}: ${thin}`, candidate: c, baseline: b });
      return;
    }
    results.push({
      gate,
      verdict: failed(c, b) ? 'fail' : 'pass',
      reason: `${gate}: ${describe(c, b)}`,
      candidate: c,
      baseline: b,
    });
  };
  const rate = (h: CohortHealth) => (h.inferences > 0 ? h.errors / h.inferences : null);
  if (gates.errorRate) {
    const limit = gates.errorRate.maxIncrease;
    judge(
      'errorRate',
      [rate(candidate), rate(baseline)],
      (c, b) => c - b > limit,
      (c, b) => `error rate ${fmt(c)} vs ${fmt(b)} on the old model (max +${limit})`,
    );
  }
  if (gates.p95Latency) {
    const limit = gates.p95Latency.maxRatio;
    judge(
      'p95Latency',
      [candidate.p95LatencyMs, baseline.p95LatencyMs],
      (c, b) => c > b * limit,
      (c, b) => `p95 latency ${fmt(c)} ms vs ${fmt(b)} ms (max ×${limit})`,
    );
  }
  if (gates.confidence) {
    const limit = gates.confidence.maxDrop;
    judge(
      'confidence',
      [candidate.meanConfidence, baseline.meanConfidence],
      (c, b) => b - c > limit,
      (c, b) => `mean confidence ${fmt(c)} vs ${fmt(b)} (max drop ${limit})`,
    );
  }
  if (gates.predictionShift) {
    const limit = gates.predictionShift.maxDivergence;
    const divergence = jensenShannon(candidate.classCounts, baseline.classCounts);
    judge(
      'predictionShift',
      [divergence, 0],
      (c) => c > limit,
      (c) => `prediction distribution divergence ${fmt(c)} (max ${limit})`,
    );
  }
  return results;
}

/**
 * The last windows of every device, in memory: the gates' input until the ingestion rollups serve
 * it. Bounded per device and by age; a restarted cloud starts empty, so gates are inconclusive (not
 * failing) until windows arrive again.
 */
export class TelemetryMemory implements RolloutTelemetry {
  readonly #windows = new Map<string, TelemetryWindow[]>();
  readonly #maxPerDevice: number;
  readonly #maxAgeMs: number;

  constructor(options: { maxWindowsPerDevice?: number; maxAgeMs?: number } = {}) {
    this.#maxPerDevice = options.maxWindowsPerDevice ?? 240;
    this.#maxAgeMs = options.maxAgeMs ?? 6 * 3_600_000;
  }

  record(deviceId: string, window: TelemetryWindow): void {
    const list = this.#windows.get(deviceId) ?? [];
    list.push(window);
    const horizon = window.windowEnd - this.#maxAgeMs;
    while (list.length > this.#maxPerDevice || (list[0] !== undefined && list[0].windowEnd < horizon)) {
      list.shift();
    }
    this.#windows.set(deviceId, list);
  }

  #select(query: CohortQuery, model: (w: TelemetryWindow) => { name: string; version: string } | null) {
    const selected: TelemetryWindow[] = [];
    for (const id of query.deviceIds) {
      for (const w of this.#windows.get(id) ?? []) {
        const ref = model(w);
        if (w.windowEnd < query.since || w.windowEnd > query.until || ref === null) continue;
        if (ref.name !== query.model.name) continue;
        const same = ref.version === query.model.version;
        if (same === (query.model.match === 'this')) selected.push(w);
      }
    }
    return selected;
  }

  async cohortHealth(query: CohortQuery): Promise<CohortHealth> {
    return mergeWindows(this.#select(query, (w) => w.model));
  }

  async driftSample(query: CohortQuery, profile: ReferenceProfile): Promise<DriftSample> {
    const sample: DriftSample = { windows: 0, incompatible: 0, sketch: null };
    for (const w of this.#select(query, (x) => x.model)) {
      if (w.sketches === undefined) continue;
      try {
        const sketch = WindowSketch.fromWire(w.sketches, profile.spec);
        sample.sketch = sample.sketch ? sample.sketch.merge(sketch) : sketch;
        sample.windows++;
      } catch {
        sample.incompatible++; // binned against another profile's edges: not comparable
      }
    }
    return sample;
  }

  async shadowHealth(query: CohortQuery): Promise<ShadowResult> {
    const samples: ShadowSample[] = [];
    for (const w of this.#select(query, (x) => x.shadow?.model ?? null)) {
      if (w.shadow === undefined) continue;
      const latency = w.latencyMs;
      samples.push({
        deviceId: w.deviceId,
        shadow: w.shadow,
        activeLatency: latency ? { count: latency.count, p95: latency.p95 } : null,
      });
    }
    return mergeShadowSamples(samples);
  }
}
