// Following the closed loop from outside, as an operator would: the drift reports, the retraining
// run, its canary rollout and the fleet's own ground truth. `edgeloop start --scenario drift` prints
// what this sees; `pnpm bench drift --loop` times it. Only the public API and the simulator's
// counters are read, so what it reports is what the dashboard and the CLI show.
import type { ApiClient } from '@edgeloop/cloud';
import type { SimulatedDeviceStats, SimulatedFleet } from '@edgeloop/edge-agent';
import { z } from 'zod';

/** A step of the loop, stamped with when it happened (server time where the API gives one). */
export interface LoopEvent {
  kind:
    | 'drift-warn'
    | 'drift-alert'
    | 'run-queued'
    | 'training'
    | 'challenger-registered'
    | 'verdict'
    | 'canary'
    | 'promoted'
    | 'run-ended'
    | 'fleet-switched'
    | 'baseline';
  at: number;
  text: string;
}

const driftReports = z.object({
  reports: z.array(
    z.object({
      version: z.number(),
      scope: z.string(),
      windowEnd: z.string(),
      report: z.object({
        state: z.string(),
        drifted: z.array(z.string()),
        samples: z.number(),
        features: z.array(z.object({ feature: z.string(), psi: z.number().nullable() }).passthrough()),
      }),
    }),
  ),
});

const runView = z.object({
  id: z.string(),
  status: z.string(),
  trigger: z.string(),
  triggerDetail: z.record(z.string(), z.unknown()),
  championVersion: z.number().nullable(),
  challengerVersion: z.number().nullable(),
  rolloutId: z.string().nullable(),
  progress: z.object({ stage: z.string(), fraction: z.number(), message: z.string() }),
  evaluation: z.record(z.string(), z.unknown()).nullable(),
  lineage: z.record(z.string(), z.unknown()),
  reason: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  finishedAt: z.string().nullable(),
});
export type RunView = z.infer<typeof runView>;
const runList = z.object({ items: z.array(runView) });

const rolloutView = z.object({
  id: z.string(),
  status: z.string(),
  waves: z.array(
    z.object({
      index: z.number(),
      status: z.string(),
      counts: z.object({ total: z.number(), active: z.number() }),
    }),
  ),
});

const baselineList = z.object({
  baselines: z.array(
    z.object({
      version: z.number(),
      scopeKind: z.string(),
      scope: z.string(),
      status: z.string(),
      targetSamples: z.number(),
      collectedSamples: z.number(),
    }),
  ),
});

export interface LoopWatcherOptions {
  api: ApiClient;
  model: string;
  /** The fleet slice (device class) the drift was injected into. */
  scope: string;
  /** When the drift was injected (ms since the epoch): earlier reports and runs are not this loop's. */
  onset: number;
  fleet: Pick<SimulatedFleet, 'allDeviceStats'>;
  corrupted: (device: SimulatedDeviceStats) => boolean;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** Polls the API and the fleet; each `poll()` returns the loop's steps seen since the previous one. */
export class LoopWatcher {
  readonly #o: LoopWatcherOptions;
  #driftState = 'ok';
  #run: RunView | undefined;
  #trainingShown = -1;
  #waves = new Map<number, string>();
  #switched = false;
  #baseline = '';

  constructor(options: LoopWatcherOptions) {
    this.#o = options;
  }

  /** The run this loop started (the first one created after the onset), once there is one. */
  get run(): RunView | undefined {
    return this.#run;
  }

  async poll(): Promise<LoopEvent[]> {
    const events: LoopEvent[] = [];
    await this.#pollDrift(events);
    await this.#pollRun(events);
    this.#pollFleet(events);
    await this.#pollBaseline(events);
    return events;
  }

  /** After the promotion: the drifted class's new normal on the new champion, collecting then active. */
  async #pollBaseline(events: LoopEvent[]): Promise<void> {
    const version = this.#run?.challengerVersion;
    if (version == null || this.#run?.status !== 'promoted' || this.#baseline === 'active') return;
    const { api, model, scope } = this.#o;
    const { baselines } = await api.request('GET', `/api/v1/drift/baselines?model=${model}`, baselineList);
    const mine = baselines.find(
      (b) => b.version === version && b.scopeKind === 'device_class' && b.scope === scope,
    );
    if (!mine || mine.status === this.#baseline) return;
    this.#baseline = mine.status;
    events.push({
      kind: 'baseline',
      at: Date.now(),
      text:
        mine.status === 'active'
          ? `drift baseline ACTIVE: class ${scope} is judged against what it saw on v${version} (${mine.collectedSamples} inferences), not v${version}'s validation data`
          : `drift baseline for class ${scope} on v${version}: collecting ${mine.targetSamples} inferences of its new normal`,
    });
  }

  async #pollDrift(events: LoopEvent[]): Promise<void> {
    if (this.#driftState === 'alert') return;
    const { api, model, scope, onset } = this.#o;
    const { reports } = await api.request('GET', `/api/v1/drift?model=${model}&limit=50`, driftReports);
    const mine = reports
      .filter((r) => r.scope === scope && Date.parse(r.windowEnd) > onset)
      .sort((a, b) => Date.parse(a.windowEnd) - Date.parse(b.windowEnd));
    for (const r of mine) {
      const state = r.report.state;
      if (state === this.#driftState || (state !== 'warn' && state !== 'alert')) continue;
      if (state === 'warn' && this.#driftState === 'alert') continue;
      this.#driftState = state;
      const features = r.report.features
        .filter((f) => r.report.drifted.includes(f.feature))
        .sort((a, b) => (b.psi ?? 0) - (a.psi ?? 0))
        .slice(0, 4)
        .map((f) => `${f.feature} (PSI ${(f.psi ?? 0).toFixed(2)})`);
      events.push({
        kind: state === 'alert' ? 'drift-alert' : 'drift-warn',
        at: Date.now(),
        text: `drift ${state.toUpperCase()} on ${model} v${r.version}, class ${scope} (${r.report.samples} inferences): ${features.join(', ') || 'no single feature'}`,
      });
    }
  }

  async #pollRun(events: LoopEvent[]): Promise<void> {
    const { api, model, onset } = this.#o;
    if (this.#run && ['promoted', 'rejected', 'failed', 'cancelled'].includes(this.#run.status)) return;
    const { items } = await api.request('GET', `/api/v1/retrain/runs?model=${model}&limit=20`, runList);
    const previous = this.#run;
    const run = previous
      ? items.find((r) => r.id === previous.id)
      : items.filter((r) => Date.parse(r.createdAt) >= onset).at(-1);
    if (!run) return;
    this.#run = run;
    if (!previous) {
      const drifted = (run.triggerDetail.drifted as string[] | undefined)?.slice(0, 3).join(', ');
      events.push({
        kind: 'run-queued',
        at: Date.parse(run.createdAt),
        text: `retraining run ${run.id} started (trigger: ${run.trigger}${drifted ? `, drifted: ${drifted}` : ''})`,
      });
    }
    if (run.progress.stage === 'training' || run.progress.stage === 'dataset') {
      const step = Math.floor(run.progress.fraction * 4);
      if (step > this.#trainingShown) {
        this.#trainingShown = step;
        const samples = run.lineage.samples as { train?: number; holdout?: number } | undefined;
        const data = samples ? ` [${samples.train} edge samples to train, ${samples.holdout} held out]` : '';
        events.push({
          kind: 'training',
          at: Date.now(),
          text: `  training ${pct(run.progress.fraction)}: ${run.progress.message}${data}`,
        });
      }
    }
    if (run.challengerVersion !== null && previous?.challengerVersion == null) {
      events.push({
        kind: 'challenger-registered',
        at: Date.parse(run.updatedAt),
        text: `challenger ${model} v${run.challengerVersion} registered; evaluating it against champion v${run.championVersion}`,
      });
    }
    if (run.evaluation && !previous?.evaluation) {
      events.push({ kind: 'verdict', at: Date.parse(run.updatedAt), text: verdictText(run) });
    }
    if (run.rolloutId) await this.#pollCanary(run.rolloutId, events);
    if (run.status === 'promoted') {
      events.push({
        kind: 'promoted',
        at: Date.parse(run.finishedAt ?? run.updatedAt),
        text: `PROMOTED: ${model} v${run.challengerVersion} is the champion (${run.reason})`,
      });
    } else if (['rejected', 'failed', 'cancelled'].includes(run.status)) {
      events.push({
        kind: 'run-ended',
        at: Date.parse(run.finishedAt ?? run.updatedAt),
        text: `retraining run ${run.id} ${run.status}: ${run.reason}`,
      });
    }
  }

  async #pollCanary(rolloutId: string, events: LoopEvent[]): Promise<void> {
    const rollout = await this.#o.api.request('GET', `/api/v1/rollouts/${rolloutId}`, rolloutView);
    for (const wave of rollout.waves) {
      const state = `${wave.status} ${wave.counts.active}/${wave.counts.total}`;
      if (this.#waves.get(wave.index) === state) continue;
      this.#waves.set(wave.index, state);
      events.push({
        kind: 'canary',
        at: Date.now(),
        text: `  canary ${rollout.id} wave ${wave.index + 1}/${rollout.waves.length}: ${wave.status}, ${wave.counts.active}/${wave.counts.total} devices active`,
      });
    }
  }

  #pollFleet(events: LoopEvent[]): void {
    const version = this.#run?.challengerVersion;
    if (this.#switched || version == null || this.#run?.status !== 'promoted') return;
    const corrupted = this.#o.fleet.allDeviceStats().filter(this.#o.corrupted);
    if (corrupted.length === 0 || !corrupted.every((d) => d.model?.version === String(version))) return;
    this.#switched = true;
    events.push({
      kind: 'fleet-switched',
      at: Date.now(),
      text: `all ${corrupted.length} drifted devices now serve ${this.#o.model} v${version}`,
    });
  }
}

function verdictText(run: RunView): string {
  const evaluation = run.evaluation as { passed?: boolean; checks?: unknown[] };
  const checks = (evaluation.checks ?? [])
    .map((c) => {
      const check = c as { passed?: boolean; message?: string };
      return `${check.passed ? 'pass' : 'FAIL'}  ${check.message ?? ''}`;
    })
    .slice(0, 4);
  const head = evaluation.passed ? 'gates PASSED' : 'gates FAILED';
  return `${head} for challenger v${run.challengerVersion}${checks.length ? `:\n    ${checks.join('\n    ')}` : ''}`;
}

/**
 * Top-1 accuracy of the simulator's ground truth, split by whether a device is corrupted and which
 * model version it served: each `sample()` attributes the frames counted since the previous one to
 * the version the device runs now (a switch between samples misattributes a few seconds of frames).
 */
export class AccuracyByVersion {
  readonly #last = new Map<string, { labelled: number; correct: number }>();
  readonly #tally = new Map<string, { labelled: number; correct: number }>();

  sample(devices: readonly SimulatedDeviceStats[]): void {
    for (const d of devices) {
      const last = this.#last.get(d.deviceId) ?? { labelled: 0, correct: 0 };
      // The simulator restarts a device's counts when its corruption changes.
      const reset = d.labelled < last.labelled;
      const labelled = reset ? d.labelled : d.labelled - last.labelled;
      const correct = reset ? d.correct : d.correct - last.correct;
      this.#last.set(d.deviceId, { labelled: d.labelled, correct: d.correct });
      if (d.model === null || labelled === 0) continue;
      const key = tallyKey(d.corruption !== null, d.model.version);
      const tally = this.#tally.get(key) ?? { labelled: 0, correct: 0 };
      tally.labelled += labelled;
      tally.correct += correct;
      this.#tally.set(key, tally);
    }
  }

  /** Accuracy and frame count of corrupted (or clean) devices on `version`, null before any frame. */
  of(corrupted: boolean, version: number): { accuracy: number; frames: number } | null {
    const tally = this.#tally.get(tallyKey(corrupted, version));
    return tally && tally.labelled > 0
      ? { accuracy: tally.correct / tally.labelled, frames: tally.labelled }
      : null;
  }

  /** Forgets what was counted so far (e.g. the clean period before a corruption). */
  clear(): void {
    this.#tally.clear();
  }
}

const tallyKey = (corrupted: boolean, version: string | number) =>
  `${corrupted ? 'corrupted' : 'clean'}@${version}`;
