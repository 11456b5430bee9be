// `edgeloop start --scenario drift` (the default): once the first rollout has settled, the cameras
// of one device class are brightened — the lighting changed on part of the fleet — and the demo
// narrates the loop the cloud then runs on its own: drift alert, retraining on the fleet's labelled
// samples, gates, canary waves, promotion, and what the drifted devices' accuracy was before and
// after. The scenario only injects and watches; every decision is the cloud's.
//
// A marker in the data dir records the injection, so a second `pnpm start` puts the same cameras
// back in the same light (the simulator does not persist corruptions) instead of injecting anew,
// and carries on narrating a loop that had not finished.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ApiClient } from '@edgeloop/cloud';
import type { FrameCorruption, SimulatedDeviceStats, SimulatedFleet } from '@edgeloop/edge-agent';
import { z } from 'zod';
import { AccuracyByVersion, type LoopEvent, LoopWatcher } from './scenario-watch.ts';

export const SCENARIOS = ['drift', 'none'] as const;
export type Scenario = (typeof SCENARIOS)[number];
export const DEFAULT_DRIFT_AFTER_SECONDS = 150;

const MODEL = 'digits';
/** The drift monitor slices the fleet by device class, so the drift is injected into one class. */
export const DRIFTED_CLASS = 'simulated';
/** +0.45 on every pixel: the default model falls to ~60% top-1 (see bench/results/drift.json). */
export const DRIFT: FrameCorruption = { kind: 'brightness', severity: 0.75 };
const MARKER = 'scenario-drift.json';
const POLL_MS = 3000;
/** Frames counted on the new champion before the before/after accuracy is printed. */
const AFTER_SECONDS = 60;

/**
 * The retraining policy the demo sets when the model has none stored: a run may start as soon as a
 * few minutes of drifted samples arrived (the simulator labels them with ground truth), trains as
 * the champion did (the quick start's 2 epochs: about a minute on 2 cores), and canaries in two
 * short waves. A one-hour cooldown keeps the loop from retraining again right after promotion.
 */
export const DEMO_RETRAIN_POLICY = {
  minLabelledSamples: 150,
  recentWindowSeconds: 300,
  cooldownSeconds: 3600,
  rollout: { waves: [{ percent: 25 }, { percent: 100 }], minSoakSeconds: 30, deviceTimeoutSeconds: 300 },
};

const markerSchema = z.object({
  onset: z.number(),
  deviceClass: z.string(),
  corruption: z.object({ kind: z.string(), severity: z.number() }),
  finished: z.boolean().default(false),
});
type Marker = z.infer<typeof markerSchema>;

const policyView = z.object({ stored: z.boolean() }).passthrough();
const rolloutList = z.object({
  items: z.array(z.object({ model: z.string(), status: z.string() }).passthrough()),
});

export interface DriftScenarioOptions {
  api: ApiClient;
  fleet: SimulatedFleet;
  dataDir: string;
  driftAfterSeconds: number;
  dashboardUrl: string;
  say: (text: string) => void;
  signal: AbortSignal;
}

export async function runDriftScenario(o: DriftScenarioOptions): Promise<void> {
  const drifted = o.fleet.devices.filter((d) => d.deviceClass === DRIFTED_CLASS).map((d) => d.deviceId);
  if (drifted.length === 0 || drifted.length === o.fleet.devices.length) {
    o.say(
      `Drift scenario skipped: it drifts the "${DRIFTED_CLASS}" devices and needs some devices of other classes to stay clean (see --classes).\n`,
    );
    return;
  }
  const markerPath = join(o.dataDir, MARKER);
  const marker = await readMarker(markerPath);
  if (marker) {
    o.fleet.setCorruption(drifted, marker.corruption);
    const when = new Date(marker.onset).toLocaleTimeString();
    if (marker.finished) {
      o.say(
        `Drift scenario: already ran on this data dir (injected ${when}); the ${drifted.length} "${marker.deviceClass}" cameras stay brightened.\n` +
          `  To watch it again, start with a fresh --data-dir (or delete ${markerPath}).\n`,
      );
      return;
    }
    o.say(
      `Drift scenario: resuming (drift injected ${when}); the "${marker.deviceClass}" cameras are brightened again.\n`,
    );
    await narrate(o, marker, markerPath);
    return;
  }

  await waitForFirstRollout(o);
  if (o.signal.aborted) return;
  await ensureDemoPolicy(o);
  o.say(
    `Drift scenario: in ${o.driftAfterSeconds} s the lighting changes on the ${drifted.length} "${DRIFTED_CLASS}" cameras ` +
      `(${DRIFT.kind} +${(DRIFT.severity * 0.6).toFixed(2)}); the other ${o.fleet.devices.length - drifted.length} stay as they are.\n`,
  );
  await sleep(o.driftAfterSeconds * 1000, o.signal);
  if (o.signal.aborted) return;
  const injected: Marker = {
    onset: Date.now(),
    deviceClass: DRIFTED_CLASS,
    corruption: { kind: DRIFT.kind, severity: DRIFT.severity },
    finished: false,
  };
  o.fleet.setCorruption(drifted, DRIFT);
  await writeFile(markerPath, `${JSON.stringify(injected)}\n`);
  o.say(
    `\n>>> DRIFT INJECTED: ${DRIFT.kind} ${DRIFT.severity} on ${drifted.join(', ')}.\n` +
      `    Nothing else is scripted from here: the cloud should notice, retrain and promote on its own.\n` +
      `    Watch: ${o.dashboardUrl}   or   edgeloop retrain status --model ${MODEL}\n`,
  );
  await narrate(o, injected, markerPath);
}

/** Prints each step of the loop as the API shows it, then the drifted devices' accuracy before/after. */
async function narrate(o: DriftScenarioOptions, marker: Marker, markerPath: string): Promise<void> {
  const corrupted = (d: SimulatedDeviceStats) => d.deviceClass === marker.deviceClass;
  const watcher = new LoopWatcher({
    api: o.api,
    model: MODEL,
    scope: marker.deviceClass,
    onset: marker.onset,
    fleet: o.fleet,
    corrupted,
  });
  const accuracy = new AccuracyByVersion();
  const stamp = (at: number) => {
    const s = Math.max(0, Math.round((at - marker.onset) / 1000));
    return `+${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  };
  const seen = new Map<LoopEvent['kind'], number>();
  let hinted = false;
  let switchedAt: number | undefined;
  while (!o.signal.aborted) {
    accuracy.sample(o.fleet.allDeviceStats());
    const events = await watcher.poll().catch((err: unknown) => {
      if (!o.signal.aborted) o.say(`[loop] could not read the API: ${(err as Error).message}\n`);
      return [];
    });
    for (const e of events) {
      if (!seen.has(e.kind)) seen.set(e.kind, e.at);
      o.say(`[loop ${stamp(e.at)}] ${e.text}\n`);
    }
    const alertAt = seen.get('drift-alert');
    if (!hinted && alertAt !== undefined && !watcher.run && Date.now() - alertAt > 90_000) {
      hinted = true;
      o.say(
        `[loop] drift seen but no run yet: the policy waits for ${DEMO_RETRAIN_POLICY.minLabelledSamples} labelled samples from the last ${DEMO_RETRAIN_POLICY.recentWindowSeconds / 60} min (edgeloop retrain policy ${MODEL}).\n`,
      );
    }
    if (seen.has('run-ended')) break;
    switchedAt ??= seen.get('fleet-switched');
    if (switchedAt !== undefined && Date.now() - switchedAt >= AFTER_SECONDS * 1000) break;
    await sleep(POLL_MS, o.signal);
  }
  if (o.signal.aborted) return;
  const run = watcher.run;
  if (run?.championVersion != null) {
    const before = accuracy.of(true, run.championVersion);
    const after = run.challengerVersion === null ? null : accuracy.of(true, run.challengerVersion);
    const clean = run.challengerVersion === null ? null : accuracy.of(false, run.challengerVersion);
    const show = (a: { accuracy: number; frames: number } | null) =>
      a ? `${(100 * a.accuracy).toFixed(1)}% (${a.frames} frames)` : 'n/a';
    o.say(
      `[loop] accuracy of the drifted cameras: v${run.championVersion} ${show(before)} → ` +
        `v${run.challengerVersion ?? '-'} ${show(after)}; clean cameras on v${run.challengerVersion ?? '-'}: ${show(clean)}\n`,
    );
  }
  const milestones = (
    [
      'drift-warn',
      'drift-alert',
      'run-queued',
      'challenger-registered',
      'promoted',
      'fleet-switched',
    ] as const
  )
    .filter((k) => seen.has(k))
    .map((k) => `${k} ${stamp(seen.get(k) as number)}`);
  o.say(
    `[loop] done. From drift onset: ${milestones.join(', ')}\n` +
      `  The drifted class collects a drift baseline on v${run?.challengerVersion ?? '-'} and is then judged against it\n` +
      `  (edgeloop drift baseline list); the policy's 1 h cooldown keeps another run from starting meanwhile.\n`,
  );
  await writeFile(markerPath, `${JSON.stringify({ ...marker, finished: true })}\n`);
}

async function ensureDemoPolicy(o: DriftScenarioOptions): Promise<void> {
  const path = `/api/v1/models/${MODEL}/retrain-policy`;
  const current = await o.api.request('GET', path, policyView);
  if (current.stored) return; // an operator's (or an earlier start's) policy stays
  await o.api.request('PUT', path, null, DEMO_RETRAIN_POLICY);
  o.say(
    `Retraining policy for ${MODEL}: retrain on drift once ${DEMO_RETRAIN_POLICY.minLabelledSamples} labelled samples ` +
      `from the last ${DEMO_RETRAIN_POLICY.recentWindowSeconds / 60} min are in; canary 25% → 100%, 30 s soak; 1 h cooldown.\n` +
      `  See it: edgeloop retrain policy ${MODEL}\n`,
  );
}

async function waitForFirstRollout(o: DriftScenarioOptions): Promise<void> {
  while (!o.signal.aborted) {
    const rollouts = await o.api.request('GET', '/api/v1/rollouts', rolloutList).catch(() => undefined);
    if (rollouts?.items.some((r) => r.model === MODEL && r.status === 'completed')) return;
    await sleep(POLL_MS, o.signal);
  }
}

async function readMarker(path: string): Promise<Marker | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const parsed = markerSchema.safeParse(JSON.parse(text));
  return parsed.success ? parsed.data : undefined;
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
