// What `pnpm bench agent` reports: bench/results/agent.json and the table printed at the end.
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mb, round } from '../rollout/process.ts';
import { type FrameRounds, median, type PathRounds } from './rounds.ts';
import { CLOCK_TICKS_PER_S } from './shipped.ts';

export const TARGETS = { ratio_vs_bare: 0.85, rss_mb: 150 };

export interface DownloadRun {
  version: number;
  model_bytes: number;
  status: string;
  seconds_to_serving: number | null;
  seconds_to_cloud_sees_active: number | null;
  cloud_bytes_published: number;
}

/** Everything one run measured, as the bench collected it. */
export interface AgentBenchRun {
  seconds: number;
  rounds: number;
  idleSeconds: number;
  agentNodeOptions: string;
  model: { version: number; bytes: number };
  jpegBytes: number;
  frames: FrameRounds;
  tsx: {
    before: { rss: number };
    after: { rss: number; peakRss: number };
    afterDownloads: { rss: number };
    idleCpuFraction: number;
  };
  shipped: {
    command: string;
    before: { rss: number };
    after: { rss: number; peakRss: number };
    idleCpuFraction: number;
  };
  downloads: DownloadRun[];
}

/** Medians of one path set, and ratios against the bare path of the same concurrency. */
function summary(r: PathRounds) {
  const bare = median(r.bare);
  const agent = median(r.agent);
  const shipped = median(r.shipped);
  return { bare, agent, shipped, ratio: agent / bare, shippedRatio: shipped / bare };
}

const perFrame = (r: PathRounds) => ({
  bare: r.cpuPerFrame.bare.map((x) => round(x, 3)),
  agent: r.cpuPerFrame.agent.map((x) => round(x, 3)),
  shipped: r.cpuPerFrame.shipped.map((x) => round(x, 3)),
});

export function agentReport(run: AgentBenchRun): Record<string, unknown> {
  const { concurrent, sequential, fetch } = run.frames;
  const c = summary(concurrent);
  const seq = summary(sequential);
  const fetchFps = median(fetch);
  return {
    bench: 'agent',
    at: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      node: process.version,
      load_average: loadavg().map((x) => round(x, 2)),
    },
    setup: `tsx agent (startAgent from source through tsx, profile simulated, 1 inference thread) in a child process; shipped agent (the esbuild bundle on plain Node, flags from the systemd unit, same profile) in another; the bare path in a third (same model bytes and session options, 1 thread); cloud (startCloud) in the bench process; loopback; ${concurrent.concurrency} frames in flight on every path (ratio_vs_bare), and one at a time (ratio_vs_bare_sequential)`,
    agent_node_options: run.agentNodeOptions,
    model: { name: 'digits', version: run.model.version, variant: 'int8', bytes: run.model.bytes },
    image: { format: 'jpeg', width: 640, height: 480, bytes: run.jpegBytes },
    targets: TARGETS,
    frames: {
      seconds_per_round: run.seconds,
      rounds: run.rounds,
      concurrency: concurrent.concurrency,
      bare_frames_per_s: concurrent.bare.map((x) => round(x)),
      agent_frames_per_s: concurrent.agent.map((x) => round(x)),
      agent_fetch_client_frames_per_s: fetch.map((x) => round(x)),
      bare_median: round(c.bare),
      agent_median: round(c.agent),
      agent_fetch_client_median: round(fetchFps),
      ratio_vs_bare: round(c.ratio, 3),
      ratio_vs_bare_sequential: round(seq.ratio, 3),
      ratio_vs_bare_fetch_client: round(fetchFps / c.bare, 3),
      cpu_ms_per_frame: perFrame(concurrent),
      sequential: {
        bare_frames_per_s: sequential.bare.map((x) => round(x)),
        agent_frames_per_s: sequential.agent.map((x) => round(x)),
        bare_median: round(seq.bare),
        agent_median: round(seq.agent),
        cpu_ms_per_frame: perFrame(sequential),
      },
    },
    agent_rss_before_frames_mb: mb(run.tsx.before.rss),
    agent_rss_mb: mb(run.tsx.after.rss),
    agent_peak_rss_mb: mb(run.tsx.after.peakRss),
    agent_rss_after_downloads_mb: mb(run.tsx.afterDownloads.rss),
    idle: { seconds: run.idleSeconds, cpu_percent_of_one_core: round(run.tsx.idleCpuFraction * 100, 2) },
    download_and_activate: run.downloads,
    shipped_agent: {
      command: run.shipped.command,
      frames_per_s: concurrent.shipped.map((x) => round(x)),
      median: round(c.shipped),
      ratio_vs_bare: round(c.shippedRatio, 3),
      frames_per_s_sequential: sequential.shipped.map((x) => round(x)),
      median_sequential: round(seq.shipped),
      ratio_vs_bare_sequential: round(seq.shippedRatio, 3),
      rss_before_frames_mb: mb(run.shipped.before.rss),
      rss_mb: mb(run.shipped.after.rss),
      peak_rss_mb: mb(run.shipped.after.peakRss),
      idle_cpu_percent_of_one_core: round(run.shipped.idleCpuFraction * 100, 2),
      cpu_time_resolution_ms: 1000 / CLOCK_TICKS_PER_S,
    },
  };
}

export function printAgentTable(run: AgentBenchRun): void {
  const { concurrent, sequential, fetch } = run.frames;
  const c = summary(concurrent);
  const seq = summary(sequential);
  const fetchFps = median(fetch);
  const C = `${concurrent.concurrency} in flight`;
  const shippedIdle = run.shipped.idleCpuFraction;
  const tsx = `tsx from source${run.agentNodeOptions ? `, ${run.agentNodeOptions}` : ''}`;
  const bundled = `shipped bundle, ${run.shipped.command.split(' ').slice(1, -3).join(' ')}`;
  const ratioTarget = `≥ ${TARGETS.ratio_vs_bare}`;
  console.table([
    { metric: `bare frames/s (median, ${C})`, value: round(c.bare), target: '' },
    { metric: `agent frames/s (median, ${C}, node:http) [${tsx}]`, value: round(c.agent), target: '' },
    { metric: `agent frames/s (median, ${C}, fetch) [${tsx}]`, value: round(fetchFps), target: '' },
    { metric: `agent frames/s (median, ${C}, node:http) [${bundled}]`, value: round(c.shipped), target: '' },
    { metric: `ratio_vs_bare (${C}) [${tsx}]`, value: round(c.ratio, 3), target: ratioTarget },
    { metric: `ratio_vs_bare (${C}), fetch client [${tsx}]`, value: round(fetchFps / c.bare, 3), target: '' },
    { metric: `ratio_vs_bare (${C}) [${bundled}]`, value: round(c.shippedRatio, 3), target: ratioTarget },
    ...(sequential === concurrent
      ? []
      : [
          { metric: 'bare frames/s (median, sequential)', value: round(seq.bare), target: '' },
          { metric: `ratio_vs_bare_sequential [${tsx}]`, value: round(seq.ratio, 3), target: '' },
          { metric: `ratio_vs_bare_sequential [${bundled}]`, value: round(seq.shippedRatio, 3), target: '' },
        ]),
    {
      metric: `agent RSS, model loaded (MB) [${tsx}]`,
      value: mb(run.tsx.after.rss),
      target: `≤ ${TARGETS.rss_mb}`,
    },
    {
      metric: `agent RSS, model loaded (MB) [${bundled}]`,
      value: mb(run.shipped.after.rss),
      target: `≤ ${TARGETS.rss_mb}`,
    },
    {
      metric: `agent idle CPU (% of a core) [${tsx}]`,
      value: round(run.tsx.idleCpuFraction * 100, 2),
      target: '',
    },
    {
      metric: `agent idle CPU (% of a core) [${bundled}]`,
      // /proc counts CPU time in clock ticks (10 ms): 0 ticks over the idle window reads as 0.
      value:
        shippedIdle > 0
          ? round(shippedIdle * 100, 2)
          : `< ${round(1000 / CLOCK_TICKS_PER_S / run.idleSeconds / 10, 2)}`,
      target: '',
    },
    ...run.downloads.map((d) => ({
      metric: `download+activate ${d.model_bytes} B (s) [${tsx}]`,
      value: d.seconds_to_serving,
      target: '',
    })),
  ]);
}

export async function writeAgentReport(result: Record<string, unknown>): Promise<void> {
  const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'results', 'agent.json');
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${out}`);
}
