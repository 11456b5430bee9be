// Measurement: one rollout, timed from `POST /api/v1/rollouts` to 100% of the target active (as the
// cloud sees it) and to `completed`, with what it cost the cloud (bytes published on artifact topics,
// CPU, peak RSS, event-loop delay) and the fleet workers (CPU, RSS, event-loop delay).
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { type ArtifactCounters, type BenchCloud, countersSince } from './cloud.ts';
import type { SimulatedFleetWorkers } from './fleet.ts';
import { mb, type RssSampler, round, sleep } from './process.ts';

export interface RolloutView {
  id: string;
  status: string;
  reason: string;
  totals: { total: number; active: number; failed: number; timedOut: number };
  waves: { index: number; status: string; counts: { total: number; active: number } }[];
}

export interface RolloutRun {
  name: string;
  waves: string;
  status: string;
  reason: string;
  devices: number;
  active: number;
  failed: number;
  seconds_to_100pct_active: number | null;
  /** When the last simulated device served the new model, as the fleet workers saw it. */
  seconds_to_all_serving_on_devices: number | null;
  seconds_to_completed: number | null;
  model_bytes: number;
  cloud_bytes_published: number;
  cloud_bytes_ratio: number;
  artifact: Omit<ArtifactCounters, 'bytesPublished'>;
  peak_cloud_rss_mb: number;
  cloud_cpu_s: number;
  cloud_loop_delay_p99_ms: number;
  cloud_loop_delay_max_ms: number;
  peak_fleet_rss_mb_sum: number;
  peak_fleet_rss_mb_per_worker: number;
  /** Sum of the workers' peaks over the devices: what one simulated agent costs, loaded model included. */
  peak_fleet_rss_mb_per_device: number;
  fleet_cpu_s: number;
  fleet_loop_delay_p99_ms: number;
}

/**
 * Creates a rollout and polls it every 100 ms until it leaves `running` or `timeoutS` passes;
 * `onProgress` (if given) sees the rollout about every 10 s.
 */
export async function timeRollout(
  bench: BenchCloud,
  body: Record<string, unknown>,
  timeoutS: number,
  onProgress?: (seconds: number, view: RolloutView) => void | Promise<void>,
): Promise<{ view: RolloutView; activeAt: number | null; completedAt: number | null; startedAt: number }> {
  const startedAt = Date.now();
  const started = performance.now();
  const created = await bench.api<RolloutView>('POST', '/api/v1/rollouts', body);
  let activeAt: number | null = null;
  let view = created;
  let nextProgress = 10;
  for (;;) {
    view = await pollView(bench, created.id);
    const now = (performance.now() - started) / 1000;
    if (onProgress && now >= nextProgress) {
      nextProgress += 10;
      await onProgress(now, view);
    }
    if (activeAt === null && view.totals.total > 0 && view.totals.active === view.totals.total)
      activeAt = now;
    if (view.status !== 'running') {
      return { view, activeAt, completedAt: view.status === 'completed' ? now : null, startedAt };
    }
    if (now > timeoutS) return { view, activeAt, completedAt: null, startedAt };
    await sleep(100);
  }
}

export interface RolloutPlan {
  name: string;
  waves: string;
  model: string;
  version: number;
  variant: string;
  modelBytes: number;
  body: Record<string, unknown>;
}

export async function measureRollout(
  bench: BenchCloud,
  fleet: SimulatedFleetWorkers,
  cloudRss: RssSampler,
  plan: RolloutPlan,
  target: Record<string, unknown>,
  timeoutS: number,
): Promise<RolloutRun> {
  await fleet.beginRollout(`${plan.model}@${plan.version}/${plan.variant}`, timeoutS * 1000);
  cloudRss.reset();
  const loop = monitorEventLoopDelay({ resolution: 20 });
  loop.enable();
  const cpuBefore = process.cpuUsage();
  const countersBefore = await bench.artifactCounters();
  const { view, activeAt, completedAt, startedAt } = await timeRollout(
    bench,
    { model: plan.model, version: plan.version, target, seed: 1, ...plan.body },
    timeoutS,
    async (seconds, v) => {
      const c = countersSince(countersBefore, await bench.artifactCounters());
      const phases = await fleet.phases();
      console.log(
        `    ${plan.name} ${round(seconds)} s: ${v.totals.active}/${v.totals.total} active, ${v.totals.failed} failed, ${v.totals.timedOut} timed out; devices ${JSON.stringify(phases)}; ${c.chunksPublished} chunks published, requests ${JSON.stringify(c.requests)}, load ${loadavg()[0]?.toFixed(1)}`,
      );
    },
  );
  const cpu = process.cpuUsage(cpuBefore);
  loop.disable();
  const counters = countersSince(countersBefore, await bench.artifactCounters());
  const fleetStats = await fleet.endRollout();
  const { bytesPublished, ...artifact } = counters;
  return {
    name: plan.name,
    waves: plan.waves,
    status: view.status,
    reason: view.reason,
    devices: view.totals.total,
    active: view.totals.active,
    failed: view.totals.failed + view.totals.timedOut,
    seconds_to_100pct_active: activeAt === null ? null : round(activeAt, 2),
    seconds_to_all_serving_on_devices:
      fleetStats.allServingAt === null ? null : round((fleetStats.allServingAt - startedAt) / 1000, 2),
    seconds_to_completed: completedAt === null ? null : round(completedAt, 2),
    model_bytes: plan.modelBytes,
    cloud_bytes_published: bytesPublished,
    cloud_bytes_ratio: round(bytesPublished / (plan.modelBytes * Math.max(1, view.totals.total)), 4),
    artifact,
    peak_cloud_rss_mb: mb(cloudRss.peak()),
    cloud_cpu_s: round((cpu.user + cpu.system) / 1e6, 1),
    cloud_loop_delay_p99_ms: round(loop.percentile(99) / 1e6, 1),
    cloud_loop_delay_max_ms: round(loop.max / 1e6, 1),
    peak_fleet_rss_mb_sum: mb(fleetStats.peakRssSum),
    peak_fleet_rss_mb_per_worker: mb(fleetStats.peakRssMax),
    peak_fleet_rss_mb_per_device: round(
      fleetStats.peakRssSum / 1024 / 1024 / Math.max(1, view.totals.total),
      2,
    ),
    fleet_cpu_s: round(fleetStats.cpuS, 1),
    fleet_loop_delay_p99_ms: round(fleetStats.loopDelayP99MaxMs, 1),
  };
}

/**
 * One poll of the rollout, retried a few times: under a loaded machine the cloud's HTTP server has
 * reset a kept-alive socket (ECONNRESET) mid-rollout, which must not end the measurement.
 */
async function pollView(bench: BenchCloud, id: string): Promise<RolloutView> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await bench.api<RolloutView>('GET', `/api/v1/rollouts/${id}`);
    } catch (err) {
      if (attempt >= 5) throw err;
      await sleep(500 * attempt);
    }
  }
}
