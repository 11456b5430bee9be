// The loop half of `pnpm bench drift --loop [--devices 50]`: a real cloud on embedded defaults (PGlite,
// aedes) in a temp dir trains the default model as the quick start does, a simulated fleet (half
// `simulated`, half `x86-industrial-gateway`) runs it after a waved rollout, then the `simulated`
// half's cameras are brightened (the demo scenario's drift) and nothing else is scripted: the
// cloud's drift monitor, retraining orchestrator and canary do the rest, under the demo's retraining
// policy. Measured from the onset: seconds to the drift alert, to the retraining run, to the
// challenger registered, to promotion, and to every drifted device serving the new champion (target
// ≤ 600 s); and the drifted devices' ground-truth top-1 on the old champion and the new one.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiClient, createLogger, loadCloudConfig, silentLogger, startCloud } from '@edgeloop/cloud';
import { parseClassMix, type SimulatedDeviceStats } from '@edgeloop/edge-agent';
import { z } from 'zod';
import { DEMO_RETRAIN_POLICY, DRIFT, DRIFTED_CLASS, sleep } from '../../bin/scenario-drift.ts';
import { AccuracyByVersion, type LoopEvent, LoopWatcher } from '../../bin/scenario-watch.ts';
import { startDigitsFleet } from '../../bin/sim.ts';

export const LOOP_TARGET_SECONDS = 600;
const POLL_MS = 2000;
/** Clean frames on the champion before the onset, and frames on the new champion after the switch. */
const BASELINE_SECONDS = 30;
const AFTER_SECONDS = 60;

export interface LoopOptions {
  devices: number;
  /** Give up this long after the onset. */
  timeoutSeconds: number;
  say: (line: string) => void;
}

export interface LoopResult {
  devices: number;
  drifted_devices: number;
  drifted_class: string;
  corruption: string;
  policy: typeof DEMO_RETRAIN_POLICY;
  seconds_to_first_champion_active: number;
  /** From the onset; null when the step was not reached within the timeout. */
  seconds_from_onset: {
    drift_warn: number | null;
    drift_alert: number | null;
    retraining_run_started: number | null;
    challenger_registered: number | null;
    promoted: number | null;
    drifted_devices_on_new_champion: number | null;
  };
  target_seconds: number;
  met: boolean;
  run: {
    id: string;
    status: string;
    reason: string;
    champion: number | null;
    challenger: number | null;
  } | null;
  gates: unknown[];
  top1_drifted: { before: number | null; after: number | null; frames_before: number; frames_after: number };
  top1_clean: { before: number | null; after: number | null };
  log: { at_s: number; text: string }[];
}

const rolloutCreated = z.object({ id: z.string(), version: z.number() }).passthrough();
const rolloutView = z.object({ status: z.string() }).passthrough();
const modelList = z.object({
  items: z.array(z.object({ name: z.string(), aliases: z.record(z.string(), z.number()) }).passthrough()),
});

export async function runLoop(o: LoopOptions): Promise<LoopResult> {
  const dir = await mkdtemp(join(tmpdir(), 'edgeloop-bench-loop-'));
  const config = loadCloudConfig({
    flags: { port: '0', 'mqtt-port': '0', 'mqtt-ws-port': '0', 'data-dir': dir, 'quick-start': true },
  });
  const started = performance.now();
  const cloud = await startCloud(config, {
    logger: process.env.BENCH_LOG ? createLogger({ level: 'warn', format: 'json' }) : silentLogger,
  });
  const stop = new AbortController();
  try {
    const api = new ApiClient(cloud.urls.api, cloud.adminToken);
    o.say(`  cloud up at ${cloud.urls.api}; training the default model (quick-start bootstrap)...`);
    const champion = await waitForChampion(api);
    o.say(
      `  champion digits v${champion} after ${secondsSince(started)} s; starting ${o.devices} devices...`,
    );
    const fleet = await startDigitsFleet({
      cloudUrl: cloud.urls.api,
      apiToken: cloud.adminToken as string,
      dataDir: join(dir, 'sim'),
      devices: o.devices,
      idPrefix: 'cam',
      classes: parseClassMix(`${DRIFTED_CLASS}:1,x86-industrial-gateway:1`),
      fps: 1,
      startConcurrency: 8,
    });
    try {
      await api.request('PUT', '/api/v1/models/digits/retrain-policy', null, DEMO_RETRAIN_POLICY);
      const rollout = await api.request('POST', '/api/v1/rollouts', rolloutCreated, {
        model: 'digits',
        alias: 'champion',
        target: { kind: 'devices', deviceIds: fleet.devices.map((d) => d.deviceId) },
        waves: [{ percent: 10 }, { percent: 50 }, { percent: 100 }],
        minSoakSeconds: 20,
        deviceTimeoutSeconds: 300,
      });
      while (
        (await api.request('GET', `/api/v1/rollouts/${rollout.id}`, rolloutView)).status !== 'completed'
      ) {
        await sleep(POLL_MS, stop.signal);
      }
      const firstActive = secondsSince(started);
      o.say(
        `  v${champion} active on the fleet after ${firstActive} s; ${BASELINE_SECONDS} s clean baseline...`,
      );
      const accuracy = new AccuracyByVersion();
      accuracy.sample(fleet.allDeviceStats());
      await sleep(BASELINE_SECONDS * 1000, stop.signal);
      accuracy.sample(fleet.allDeviceStats());
      const cleanBefore = accuracy.of(false, champion);

      const drifted = fleet.devices.filter((d) => d.deviceClass === DRIFTED_CLASS).map((d) => d.deviceId);
      const onset = Date.now();
      fleet.setCorruption(drifted, DRIFT);
      accuracy.sample(fleet.allDeviceStats());
      o.say(
        `  drift injected: ${DRIFT.kind} ${DRIFT.severity} on ${drifted.length} "${DRIFTED_CLASS}" devices`,
      );
      const watcher = new LoopWatcher({
        api,
        model: 'digits',
        scope: DRIFTED_CLASS,
        onset,
        fleet,
        corrupted: (d: SimulatedDeviceStats) => d.deviceClass === DRIFTED_CLASS,
      });
      const seen = new Map<LoopEvent['kind'], number>();
      const log: LoopResult['log'] = [];
      let switchedAt: number | undefined;
      while (Date.now() - onset < o.timeoutSeconds * 1000) {
        accuracy.sample(fleet.allDeviceStats());
        for (const e of await watcher.poll()) {
          if (!seen.has(e.kind)) seen.set(e.kind, e.at);
          const at = Math.round((e.at - onset) / 100) / 10;
          log.push({ at_s: at, text: e.text });
          o.say(`  [+${at.toFixed(0)} s] ${e.text}`);
        }
        if (seen.has('run-ended')) break;
        switchedAt ??= seen.get('fleet-switched');
        if (switchedAt !== undefined && Date.now() - switchedAt >= AFTER_SECONDS * 1000) break;
        await sleep(POLL_MS, stop.signal);
      }
      // The alert is seen by polling, the run it queued carries the server's time: a drift-triggered
      // run cannot start before its alert, so the earlier of the two bounds the alert's time.
      const alertAt = seen.get('drift-alert');
      const runAt = seen.get('run-queued');
      if (alertAt !== undefined && runAt !== undefined && watcher.run?.trigger === 'drift') {
        seen.set('drift-alert', Math.min(alertAt, runAt));
      }
      const from = (kind: LoopEvent['kind']) => {
        const at = seen.get(kind);
        return at === undefined ? null : Math.round((at - onset) / 100) / 10;
      };
      const run = watcher.run;
      const before = run?.championVersion != null ? accuracy.of(true, run.championVersion) : null;
      const after = run?.challengerVersion != null ? accuracy.of(true, run.challengerVersion) : null;
      const cleanAfter = run?.challengerVersion != null ? accuracy.of(false, run.challengerVersion) : null;
      const switched = from('fleet-switched');
      return {
        devices: fleet.devices.length,
        drifted_devices: drifted.length,
        drifted_class: DRIFTED_CLASS,
        corruption: `${DRIFT.kind}:${DRIFT.severity}`,
        policy: DEMO_RETRAIN_POLICY,
        seconds_to_first_champion_active: firstActive,
        seconds_from_onset: {
          drift_warn: from('drift-warn'),
          drift_alert: from('drift-alert'),
          retraining_run_started: from('run-queued'),
          challenger_registered: from('challenger-registered'),
          promoted: from('promoted'),
          drifted_devices_on_new_champion: switched,
        },
        target_seconds: LOOP_TARGET_SECONDS,
        met: switched !== null && switched <= LOOP_TARGET_SECONDS,
        run: run
          ? {
              id: run.id,
              status: run.status,
              reason: run.reason,
              champion: run.championVersion,
              challenger: run.challengerVersion,
            }
          : null,
        gates: ((run?.evaluation as { checks?: unknown[] } | null)?.checks ?? []) as unknown[],
        top1_drifted: {
          before: before ? round(before.accuracy) : null,
          after: after ? round(after.accuracy) : null,
          frames_before: before?.frames ?? 0,
          frames_after: after?.frames ?? 0,
        },
        top1_clean: {
          before: cleanBefore ? round(cleanBefore.accuracy) : null,
          after: cleanAfter ? round(cleanAfter.accuracy) : null,
        },
        log,
      };
    } finally {
      stop.abort();
      await fleet.stop();
    }
  } finally {
    await cloud.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function waitForChampion(api: ApiClient): Promise<number> {
  const never = new AbortController().signal;
  for (;;) {
    const models = await api.request('GET', '/api/v1/models', modelList);
    const champion = models.items.find((m) => m.name === 'digits')?.aliases.champion;
    if (champion !== undefined) return champion;
    await sleep(POLL_MS, never);
  }
}

const secondsSince = (start: number) => Math.round((performance.now() - start) / 100) / 10;
const round = (x: number) => Math.round(x * 10_000) / 10_000;
