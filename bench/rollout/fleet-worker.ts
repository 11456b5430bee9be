// Setup, device side: one fleet-simulator process (`startDigitsFleet`: real agents, one per device),
// forked by fleet.ts with `--child`. Several of these split the fleet so no single event loop carries
// every agent, and the cloud's RSS and CPU are its own.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { RssSampler, serveParent, sleep } from './process.ts';

/** What a worker reports after a rollout; times are epoch ms so the parent can compare processes. */
export interface WorkerRolloutStats {
  devices: number;
  /** When every device of this worker first served the watched model (null: not within the timeout). */
  allServingAt: number | null;
  peakRss: number;
  cpuS: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

/** A worker's devices right now: connected agents, telemetry windows acknowledged, its RSS and CPU. */
export interface WorkerSample {
  devices: number;
  connected: number;
  windowsSent: number;
  rss: number;
  cpuS: number;
}

async function fleetWorker(): Promise<void> {
  const { startDigitsFleet } = await import('../../bin/sim.ts');
  type Fleet = Awaited<ReturnType<typeof startDigitsFleet>>;
  let fleet: Fleet | undefined;
  let dataDir = '';
  const rss = new RssSampler();
  const loop = monitorEventLoopDelay({ resolution: 20 });
  loop.enable();
  let cpuAtReset = process.cpuUsage();
  let watching: { key: string; allServingAt: number | null; stop: boolean } | undefined;

  const watch = async (key: string, timeoutMs: number) => {
    const state = { key, allServingAt: null as number | null, stop: false };
    watching = state;
    const deadline = Date.now() + timeoutMs;
    while (!state.stop && Date.now() < deadline) {
      const stats = fleet?.stats();
      if (stats && (stats.models[key] ?? 0) >= stats.devices) {
        state.allServingAt = Date.now();
        return;
      }
      await sleep(100);
    }
  };

  serveParent(async (m) => {
    switch (m.op) {
      case 'init':
        return null;
      case 'start': {
        dataDir = await mkdtemp(join(tmpdir(), 'edgeloop-bench-fleet-'));
        const started = performance.now();
        fleet = await startDigitsFleet({
          cloudUrl: String(m.cloudUrl),
          apiToken: String(m.apiToken),
          devices: Number(m.devices),
          firstIndex: Number(m.firstIndex),
          dataDir,
          idPrefix: String(m.prefix),
          tags: [String(m.tag)],
          fps: Number(m.fps),
          startConcurrency: Number(m.startConcurrency),
          ...(m.tuning ? { tuning: m.tuning as Parameters<typeof startDigitsFleet>[0]['tuning'] } : {}),
        });
        return { seconds: (performance.now() - started) / 1000, rss: rss.sample() };
      }
      case 'stats': {
        const stats = fleet?.stats();
        return { models: stats?.models, connected: stats?.connected, rss: rss.sample() };
      }
      case 'phases': {
        // Where each device stands in its update, as the agent sees it (`serving`: the watched model).
        const phases: Record<string, number> = {};
        for (const device of fleet?.devices ?? []) {
          const status = fleet?.agent(device.deviceId)?.status();
          const model = status?.model;
          const serving = model && `${model.name}@${model.version}/${model.variant}` === watching?.key;
          const phase = status?.phase.state ?? 'stopped';
          const waiting = phase === 'downloading' && (status?.download?.receivedChunks ?? 0) === 0;
          const key = serving ? 'serving' : waiting ? 'downloading_none_yet' : phase;
          phases[key] = (phases[key] ?? 0) + 1;
        }
        return phases;
      }
      case 'sample': {
        let connected = 0;
        let windowsSent = 0;
        for (const device of fleet?.devices ?? []) {
          const status = fleet?.agent(device.deviceId)?.status();
          if (status?.connected) connected++;
          windowsSent += status?.telemetry.sent ?? 0;
        }
        const cpu = process.cpuUsage();
        const sample: WorkerSample = {
          devices: fleet?.devices.length ?? 0,
          connected,
          windowsSent,
          rss: rss.sample(),
          cpuS: (cpu.user + cpu.system) / 1e6,
        };
        return sample;
      }
      case 'beginRollout': {
        rss.reset();
        loop.reset();
        cpuAtReset = process.cpuUsage();
        void watch(String(m.modelKey), Number(m.timeoutMs));
        return null;
      }
      case 'endRollout': {
        const cpu = process.cpuUsage(cpuAtReset);
        const state = watching;
        if (state) state.stop = true;
        const result: WorkerRolloutStats = {
          devices: fleet?.devices.length ?? 0,
          allServingAt: state?.allServingAt ?? null,
          peakRss: rss.peak(),
          cpuS: (cpu.user + cpu.system) / 1e6,
          loopDelayP99Ms: loop.percentile(99) / 1e6,
          loopDelayMaxMs: loop.max / 1e6,
        };
        return result;
      }
      case 'stop':
        await fleet?.stop();
        if (dataDir) await rm(dataDir, { recursive: true, force: true });
        setImmediate(() => process.exit(0));
        return null;
      default:
        throw new Error(`unknown op ${String(m.op)}`);
    }
  });
}

if (process.argv.includes('--child')) await fleetWorker();
