// Report: the printed tables and bench/results/fleet.json.
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import type { RolloutRun } from '../rollout/measure.ts';
import { round } from '../rollout/process.ts';
import type { FleetSample } from './ramp.ts';
import type { IngestInterval } from './telemetry.ts';

export interface FleetReport {
  devices: number;
  workers: number;
  windowSeconds: number;
  fps: number;
  minutes: number;
  mqttUrl: string;
  /** The private Mosquitto's config file, or null on the shared broker. */
  brokerConfig: string | null;
  /** The private Mosquitto's warnings and errors (`dropped`: lines about dropped messages). */
  brokerLog: { lines: number; dropped: number; last: string[] } | null;
  loadBefore: number[];
  memBeforeGb: number;
  memLowestGb: number;
  /** The phase the run reached (setup, ramp, steady, rollout, done). */
  phase: string;
  /** What ended the run early, with the phase it was in; null when it finished. */
  error: string | null;
  aborted: string | null;
  startedSeconds: number | null;
  rampSeconds: number | null;
  onlineAfterRamp: number | null;
  steady:
    | (IngestInterval & {
        windows_per_s_expected: number;
        windows_sent_by_agents: number;
        online_at_end: number;
        cloud_cpu_pct_of_one_core: number;
        cloud_rss_mb_peak: number;
        fleet_rss_mb: number;
        load_average_at_end: number[];
      })
    | null;
  windowsStoredTotal: number | null;
  rollout: RolloutRun | null;
  rolloutSkipped: string | null;
  timeline: FleetSample[];
}

export function printTable(r: FleetReport): void {
  const s = r.steady;
  if (!s) return;
  console.table([
    {
      N: r.devices,
      workers: r.workers,
      window_s: r.windowSeconds,
      'ramp s': r.rampSeconds,
      online: s.online_at_end,
      'win/s': s.windows_per_s,
      'win/s expected': s.windows_per_s_expected,
      'lag recv p50/p99 ms': `${s.lag_received_ms.p50} / ${s.lag_received_ms.p99}`,
      'lag stored p50/p99 ms': `${s.lag_stored_ms.p50} / ${s.lag_stored_ms.p99}`,
      'cloud cpu %': s.cloud_cpu_pct_of_one_core,
      'cloud rss MB': s.cloud_rss_mb_peak,
      'fleet rss MB': s.fleet_rss_mb,
      'rollout s→100%': r.rollout?.seconds_to_100pct_active ?? (r.rolloutSkipped ? 'skipped' : null),
    },
  ]);
  if (r.rolloutSkipped) console.log(`rollout skipped: ${r.rolloutSkipped}`);
  if (r.aborted) console.log(`run aborted: ${r.aborted}`);
}

export async function writeReport(out: string, r: FleetReport): Promise<void> {
  const result = {
    bench: 'fleet',
    at: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      node: process.version,
      load_average_before: r.loadBefore.map((x) => round(x, 2)),
      load_average_after: loadavg().map((x) => round(x, 2)),
      mem_available_gb_before: r.memBeforeGb,
      mem_available_gb_lowest: r.memLowestGb,
    },
    topology:
      'cloud (startCloud) in the bench process on Mosquitto (broker, below) and a scratch PostgreSQL database; ' +
      'fleet (startDigitsFleet, real agents) split across worker processes; loopback',
    broker: r.mqttUrl,
    broker_config: r.brokerConfig,
    broker_log: r.brokerLog,
    phase_reached: r.phase,
    error: r.error,
    devices: r.devices,
    fleet_workers: r.workers,
    telemetry_window_seconds: r.windowSeconds,
    fps_per_device: r.fps,
    steady_state_minutes: r.minutes,
    aborted: r.aborted,
    ramp: {
      workers_started_seconds: r.startedSeconds,
      seconds_to_all_online: r.rampSeconds,
      online_after_ramp: r.onlineAfterRamp,
    },
    steady_state: r.steady,
    windows_stored_total: r.windowsStoredTotal,
    rollout: r.rollout,
    rollout_skipped: r.rolloutSkipped,
    timeline: r.timeline,
  };
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
}
