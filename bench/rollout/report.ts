// Report: the printed table and bench/results/rollout.json.
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import type { RolloutRun } from './measure.ts';
import { round } from './process.ts';

/** The anchor: AWS IoT Jobs notifies at most 1,000 devices per minute. */
export const TARGET = { devices: 1000, oneWaveSeconds: 60 };

export interface RolloutReport {
  /** Where the cloud ran: embedded aedes + PGlite, or Mosquitto + PostgreSQL. */
  broker: string;
  devices: number;
  workers: number;
  fps: number;
  soakSeconds: number;
  modelBytes: number;
  hidden: number;
  fleetStartSeconds: number;
  cloudRssAfterImportsMb: number;
  cloudRssFleetOnlineMb: number;
  loadBefore: number[];
  runs: RolloutRun[];
}

export function printTable(report: RolloutReport): void {
  console.table(
    report.runs.map((r) => ({
      rollout: r.name,
      N: r.devices,
      status: r.status,
      active: r.active,
      's→100%': r.seconds_to_100pct_active,
      's→devices': r.seconds_to_all_serving_on_devices,
      's→done': r.seconds_to_completed,
      bytes_ratio: r.cloud_bytes_ratio,
      chunks: r.artifact.chunksPublished,
      cloud_rss_mb: r.peak_cloud_rss_mb,
      cloud_cpu_s: r.cloud_cpu_s,
      cloud_lag_p99: r.cloud_loop_delay_p99_ms,
      fleet_rss_mb: r.peak_fleet_rss_mb_sum,
      fleet_cpu_s: r.fleet_cpu_s,
      fleet_lag_p99: r.fleet_loop_delay_p99_ms,
    })),
  );
  const oneWave = report.runs.find((r) => r.name === 'one_wave');
  if (oneWave) {
    const verdict =
      report.devices < TARGET.devices
        ? `N = ${report.devices} < ${TARGET.devices}: not the target's scale`
        : oneWave.seconds_to_100pct_active !== null &&
            oneWave.seconds_to_100pct_active < TARGET.oneWaveSeconds
          ? 'met'
          : 'missed';
    console.log(
      `target (${TARGET.devices} devices active in < ${TARGET.oneWaveSeconds} s, one wave): ${verdict}`,
    );
  }
}

export async function writeReport(out: string, report: RolloutReport): Promise<void> {
  const result = {
    bench: 'rollout',
    at: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      node: process.version,
      load_average_before: report.loadBefore.map((x) => round(x, 2)),
      load_average_after: loadavg().map((x) => round(x, 2)),
    },
    devices: report.devices,
    fleet_workers: report.workers,
    fps_per_device: report.fps,
    soak_seconds: report.soakSeconds,
    topology:
      'cloud (startCloud: embedded aedes, PGlite, scheduler, artifact server) in the bench process; fleet (startDigitsFleet, real agents) split across worker processes; loopback',
    anchor: 'AWS IoT Jobs: at most 1,000 devices notified per minute',
    target: {
      devices: TARGET.devices,
      one_wave_seconds_to_100pct_active: TARGET.oneWaveSeconds,
      cloud_bytes_ratio: '≪ 1',
    },
    model: { kind: `MLP 784-${report.hidden}-10, int8 variant`, bytes: report.modelBytes },
    fleet_start_seconds: round(report.fleetStartSeconds, 1),
    cloud_rss_after_imports_mb: report.cloudRssAfterImportsMb,
    cloud_rss_fleet_online_mb: report.cloudRssFleetOnlineMb,
    runs: report.runs,
  };
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
}
