// The simulator's live summary line: fleet state plus rates and process cost since the previous
// sample, so one glance says whether the fleet is healthy and what it costs this machine.
import { accuracyOf, addCounts, emptyCounts } from './device-stats.ts';
import type { SimulatedFleet } from './fleet.ts';

export interface FleetSummary {
  elapsedSeconds: number;
  devices: number;
  connected: number;
  models: Record<string, number>;
  inferencesPerSecond: number;
  /** Over devices without a corruption, and over those with one. */
  accuracy: { clean: number | null; corrupted: number | null };
  corruptedDevices: number;
  idle: number;
  errors: number;
  rssMegabytes: number;
  /** Process CPU since the previous sample, in % of one core. */
  cpuPercent: number;
}

export class FleetMeter {
  readonly #started = performance.now();
  #lastTime = this.#started;
  #lastInferences = 0;
  #lastCpu = process.cpuUsage();

  sample(fleet: Pick<SimulatedFleet, 'allDeviceStats'>): FleetSummary {
    const now = performance.now();
    const cpu = process.cpuUsage(this.#lastCpu);
    const devices = fleet.allDeviceStats();
    const clean = emptyCounts();
    const corrupted = emptyCounts();
    const models: Record<string, number> = {};
    let connected = 0;
    let inferences = 0;
    for (const d of devices) {
      addCounts(d.corruption ? corrupted : clean, d);
      if (d.connected) connected++;
      inferences += d.totalInferences;
      const key = d.model ? `${d.model.name}@${d.model.version}/${d.model.variant}` : 'none';
      models[key] = (models[key] ?? 0) + 1;
    }
    const seconds = Math.max(1e-3, (now - this.#lastTime) / 1000);
    const summary: FleetSummary = {
      elapsedSeconds: (now - this.#started) / 1000,
      devices: devices.length,
      connected,
      models,
      inferencesPerSecond: (inferences - this.#lastInferences) / seconds,
      accuracy: { clean: accuracyOf(clean), corrupted: accuracyOf(corrupted) },
      corruptedDevices: devices.filter((d) => d.corruption).length,
      idle: clean.idle + corrupted.idle,
      errors: clean.errors + corrupted.errors,
      rssMegabytes: process.memoryUsage.rss() / 1024 / 1024,
      cpuPercent: ((cpu.user + cpu.system) / 1000 / 1000 / seconds) * 100,
    };
    this.#lastTime = now;
    this.#lastInferences = inferences;
    this.#lastCpu = process.cpuUsage();
    return summary;
  }
}

const percent = (value: number | null) => (value === null ? '-' : `${(value * 100).toFixed(1)}%`);

/** `[sim 35s] connected 5/5 · digits@3/int8×5 · 9.8 inf/s · accuracy 97.1% · …` */
export function formatSummary(s: FleetSummary): string {
  const models = Object.entries(s.models)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, count]) => `${key}×${count}`)
    .join(' ');
  const corrupted =
    s.corruptedDevices > 0 ? ` (corrupted ${s.corruptedDevices}: ${percent(s.accuracy.corrupted)})` : '';
  return [
    `[sim ${Math.round(s.elapsedSeconds)}s] connected ${s.connected}/${s.devices}`,
    `models ${models}`,
    `${s.inferencesPerSecond.toFixed(1)} inf/s`,
    `accuracy ${percent(s.accuracy.clean)}${corrupted}`,
    `idle ${s.idle} errors ${s.errors}`,
    `rss ${Math.round(s.rssMegabytes)} MB cpu ${Math.round(s.cpuPercent)}%`,
  ].join(' · ');
}
