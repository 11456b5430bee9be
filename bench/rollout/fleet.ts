// Setup, device side, parent half: splits N devices across worker processes (fleet-worker.ts), starts
// them one after another (provisioning goes through the cloud's API), and sums what they report.
import { fileURLToPath } from 'node:url';
import type { WorkerRolloutStats, WorkerSample } from './fleet-worker.ts';
import { type Child, forkChild } from './process.ts';

const WORKER_FILE = fileURLToPath(new URL('./fleet-worker.ts', import.meta.url));
/**
 * Each of a worker's hundreds of agents commits its chunks with fsyncs, all on one libuv thread pool:
 * the default of 4 threads queues them behind each other.
 */
const WORKER_ENV = { UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? '32' };

export interface FleetOptions {
  cloudUrl: string;
  apiToken: string;
  devices: number;
  workers: number;
  tag: string;
  fps: number;
  startConcurrency: number;
  /** Agent tuning for every device (the scale bench: telemetry window, session expiry). */
  tuning?: Record<string, unknown>;
}

export interface FleetRolloutStats {
  /** When the last worker's devices all served the model (epoch ms), or null. */
  allServingAt: number | null;
  peakRssSum: number;
  peakRssMax: number;
  cpuS: number;
  loopDelayP99MaxMs: number;
  loopDelayMaxMs: number;
}

export class SimulatedFleetWorkers {
  private constructor(readonly workers: Child[]) {}

  /** Forks the workers and starts their devices; returns the fleet and the seconds it took. */
  static async start(options: FleetOptions): Promise<{ fleet: SimulatedFleetWorkers; seconds: number }> {
    const count = Math.max(1, Math.min(options.workers, options.devices));
    const workers: Child[] = [];
    const fleet = new SimulatedFleetWorkers(workers);
    const started = performance.now();
    try {
      // Workers start in parallel; their device counts differ by at most one.
      const starts: Promise<unknown>[] = [];
      let first = 0;
      for (let w = 0; w < count; w++) {
        const devices = Math.floor(options.devices / count) + (w < options.devices % count ? 1 : 0);
        const worker = forkChild(WORKER_FILE, {}, WORKER_ENV);
        workers.push(worker);
        starts.push(
          worker.request({
            op: 'start',
            cloudUrl: options.cloudUrl,
            apiToken: options.apiToken,
            devices,
            firstIndex: first,
            prefix: options.tag,
            tag: options.tag,
            fps: options.fps,
            startConcurrency: options.startConcurrency,
            ...(options.tuning ? { tuning: options.tuning } : {}),
          }),
        );
        first += devices;
      }
      await Promise.all(starts);
    } catch (err) {
      await fleet.stop();
      throw err;
    }
    return { fleet, seconds: (performance.now() - started) / 1000 };
  }

  async beginRollout(modelKey: string, timeoutMs: number): Promise<void> {
    await Promise.all(this.workers.map((w) => w.request({ op: 'beginRollout', modelKey, timeoutMs })));
  }

  async endRollout(): Promise<FleetRolloutStats> {
    const all = await Promise.all(
      this.workers.map((w) => w.request<WorkerRolloutStats>({ op: 'endRollout' })),
    );
    const serving = all.map((s) => s.allServingAt);
    return {
      allServingAt: serving.some((t) => t === null) ? null : Math.max(...(serving as number[])),
      peakRssSum: all.reduce((sum, s) => sum + s.peakRss, 0),
      peakRssMax: Math.max(...all.map((s) => s.peakRss)),
      cpuS: all.reduce((sum, s) => sum + s.cpuS, 0),
      loopDelayP99MaxMs: Math.max(...all.map((s) => s.loopDelayP99Ms)),
      loopDelayMaxMs: Math.max(...all.map((s) => s.loopDelayMaxMs)),
    };
  }

  /** How many devices are in each update phase (`serving`: already on the rollout's model). */
  async phases(): Promise<Record<string, number>> {
    const all = await Promise.all(
      this.workers.map((w) => w.request<Record<string, number>>({ op: 'phases' })),
    );
    const sum: Record<string, number> = {};
    for (const phases of all) for (const [k, n] of Object.entries(phases)) sum[k] = (sum[k] ?? 0) + n;
    return sum;
  }

  /** Every worker's devices right now (connected, windows sent, RSS, CPU since it started). */
  async sample(): Promise<WorkerSample[]> {
    return Promise.all(this.workers.map((w) => w.request<WorkerSample>({ op: 'sample' })));
  }

  /** Ends the workers at once (SIGKILL), e.g. when the machine runs short of memory. */
  kill(): void {
    for (const w of this.workers) if (w.process.exitCode === null) w.process.kill('SIGKILL');
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop()));
  }
}
