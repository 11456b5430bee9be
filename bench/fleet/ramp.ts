// Measurement, fleet side: samples the cloud's view (devices online, from its API) and the workers'
// view (agents connected, windows acknowledged, RSS) on a timer, with the cloud process's CPU and RSS
// and the machine's free memory, so the run's timeline shows where it bent.
import { loadavg } from 'node:os';
import type { BenchCloud } from '../rollout/cloud.ts';
import type { SimulatedFleetWorkers } from '../rollout/fleet.ts';
import { mb, round } from '../rollout/process.ts';
import { memAvailable } from './memory.ts';

export interface FleetSample {
  t_s: number;
  online_cloud: number;
  connected_agents: number;
  windows_sent: number;
  cloud_rss_mb: number;
  /** The cloud process's CPU since the previous sample, as % of one core. */
  cloud_cpu_pct: number;
  fleet_rss_mb: number;
  mem_available_gb: number;
  load1: number;
}

/** Devices the cloud counts online, among those with `tag`. */
export async function devicesOnline(bench: BenchCloud, tag: string): Promise<number> {
  const page = await bench.api<{ total: number }>('GET', `/api/v1/devices?limit=1&tag=${tag}&status=online`);
  return page.total;
}

export class FleetSampler {
  readonly samples: FleetSample[] = [];
  #cpu = process.cpuUsage();
  #at = performance.now();
  readonly #t0 = performance.now();

  constructor(
    private readonly bench: BenchCloud,
    private readonly tag: string,
  ) {}

  async sample(fleet: SimulatedFleetWorkers | undefined): Promise<FleetSample> {
    const workers = fleet ? await fleet.sample().catch(() => []) : [];
    const now = performance.now();
    const cpu = process.cpuUsage(this.#cpu);
    const sample: FleetSample = {
      t_s: round((now - this.#t0) / 1000, 1),
      online_cloud: await devicesOnline(this.bench, this.tag),
      connected_agents: workers.reduce((n, w) => n + w.connected, 0),
      windows_sent: workers.reduce((n, w) => n + w.windowsSent, 0),
      cloud_rss_mb: mb(process.memoryUsage.rss()),
      cloud_cpu_pct: round(((cpu.user + cpu.system) / 1000 / (now - this.#at)) * 100, 1),
      fleet_rss_mb: mb(workers.reduce((n, w) => n + w.rss, 0)),
      mem_available_gb: round(memAvailable() / 1024 ** 3, 2),
      load1: round(loadavg()[0] ?? 0, 2),
    };
    this.#cpu = process.cpuUsage();
    this.#at = now;
    this.samples.push(sample);
    return sample;
  }
}
