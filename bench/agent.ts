// `pnpm bench agent [--seconds S] [--rounds R] [--concurrency C] [--idle-seconds S] [--cpu-prof FILE]
// [--agent-node-options FLAGS]` (`--help`): the edge agent in its own process, two ways side by side, against
// the real cloud (`startCloud`) in this process, on loopback. Methodology and findings: bench/README.md.
//
//   - tsx, from source: a child running `startAgent` from the TypeScript sources through tsx (what
//     `bin/edgeloop.mjs` does), provisioned through the cloud's API, profile `simulated` (one
//     inference thread), default Node flags unless `--agent-node-options`;
//   - shipped: the esbuild bundle (`pnpm build:agent`, rebuilt first when missing or older than its
//     sources) on plain Node with the systemd unit's Node flags and its EDGELOOP_* configuration,
//     measured from outside (bench/agent/shipped.ts). Same profile, same model, same rollout.
//
//   1. frames/s through the agent: a 640×480 JPEG posted to the local API's `POST /infer` with
//      `--concurrency` requests in flight (default 2, one per core: a camera pipeline keeps more than
//      one frame in flight) and, in the same rounds, one at a time (keep-alive, from this process;
//      node:http for the ratios, fetch reported beside them), against the bare path in a second child
//      process with as many frames in flight (sharp decode + resize to 28×28 grey, then onnxruntime
//      `session.run` with the agent's model bytes and session options, no agent), interleaved in
//      rounds: `ratio_vs_bare` (at `--concurrency`, target ≥ 0.85), `ratio_vs_bare_sequential`, and
//      CPU per frame of each;
//   2. the agent's RSS with the model loaded, after the frames (target ≤ 150 MB);
//   3. the agent's idle CPU (connected, model loaded, no frames) over `--idle-seconds`;
//   4. time to download and activate a larger model over MQTT: from `POST /api/v1/rollouts` (one
//      device, one wave) to the agent serving it (download, signature, golden check, swap). The tsx
//      agent only: the shipped one runs the same code.
//
// The default model is the digits CNN from `pnpm bench train` (bench/.cache/digits-cnn.onnx) imported
// through the cloud's pipeline; the agent serves its int8 variant (what `simulated` prefers).
//
// Modules: agent/options.ts (command line), agent/child.ts (the tsx agent's and the bare path's
// processes), agent/bare.ts, agent/shipped.ts (the bundle, measured from outside), agent/client.ts
// and agent/rounds.ts (the frames), agent/report.ts (table and JSON).
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cameraJpeg } from './agent/camera.ts';
import { CHILD_FILE } from './agent/child.ts';
import { parseAgentBenchOptions, USAGE } from './agent/options.ts';
import { agentReport, type DownloadRun, printAgentTable, writeAgentReport } from './agent/report.ts';
import { measureRounds } from './agent/rounds.ts';
import { ensureBundle, type ShippedAgent, startShippedAgent } from './agent/shipped.ts';
import { mb, round } from './rollout/process.ts';
// Types only: the agent child must not load the cloud (its RSS is what is measured); run() imports
// the cloud side dynamically.
import type { ImportedVersion } from './rollout.ts';

const here = dirname(fileURLToPath(import.meta.url));
const DEFAULT_MODEL = join(here, '.cache', 'digits-cnn.onnx');
/** The larger models, bracketing 1 MB: the rollout bench's MLP at these hidden widths (int8 artifacts
 * measured 0.26 MB and 0.80 MB; see MLP_HIDDEN in rollout.ts for why not exactly 1 MB). */
const LARGE_HIDDEN = [320, 1000];

export async function run(args: string[]): Promise<void> {
  const options = parseAgentBenchOptions(args);
  if (options.help) {
    console.log(USAGE);
    return;
  }
  const { seconds, rounds, concurrency, idleSeconds, agentNodeOptions } = options;
  if (!existsSync(DEFAULT_MODEL)) {
    console.error(`No default model at ${DEFAULT_MODEL}: run \`pnpm bench train\` first.`);
    process.exitCode = 1;
    return;
  }
  console.log(
    `agent bench: ${rounds} rounds of ${seconds} s (bare, agent; ${concurrency} in flight and 1), load ${loadavg()[0]?.toFixed(1)}`,
  );
  console.log(`  agent bundle: ${ensureBundle()}`);
  const { forkChild, importDigitsModel, int8Of, mlpModel, startBenchCloud, timeRollout } = await import(
    './rollout.ts'
  );
  const bench = await startBenchCloud();
  // `--agent-node-options "--max-semi-space-size=1"`: Node flags for the agent's process only (through
  // NODE_OPTIONS, which the fork inherits), recorded in the results; the default is none.
  const inheritedNodeOptions = process.env.NODE_OPTIONS;
  if (agentNodeOptions) process.env.NODE_OPTIONS = `${inheritedNodeOptions ?? ''} ${agentNodeOptions}`.trim();
  const child = forkChild(CHILD_FILE, {});
  if (inheritedNodeOptions === undefined) delete process.env.NODE_OPTIONS;
  else process.env.NODE_OPTIONS = inheritedNodeOptions;
  // The bare path runs in a process of its own, so the agent's RSS is the agent's alone.
  const bareChild = forkChild(CHILD_FILE, {});
  const modelEvents: { sha: string | null; at: number }[] = [];
  child.onEvent((m) => {
    if (m.event === 'model') modelEvents.push({ sha: (m.sha as string | null) ?? null, at: Number(m.at) });
  });
  let shipped: ShippedAgent | undefined;
  let result: Record<string, unknown>;
  try {
    const t0 = performance.now();
    const digits = await importDigitsModel(bench, 'digits', new Uint8Array(readFileSync(DEFAULT_MODEL)));
    const large: ImportedVersion[] = [];
    for (const hidden of LARGE_HIDDEN)
      large.push(await importDigitsModel(bench, 'mlp', mlpModel(hidden, hidden)));
    console.log(
      `  imported digits + ${LARGE_HIDDEN.length} larger models in ${round((performance.now() - t0) / 1000)} s`,
    );
    const deviceId = `bench-agent-${Date.now().toString(36)}`;
    const { localUrl } = await child.request<{ localUrl: string }>({
      op: 'start',
      cloudUrl: bench.cloud.urls.api,
      apiToken: bench.cloud.adminToken,
      deviceId,
    });
    shipped = await startShippedAgent({
      cloudUrl: bench.cloud.urls.api,
      apiToken: String(bench.cloud.adminToken),
      deviceId: `${deviceId}-shipped`,
    });
    console.log(`  shipped agent: ${shipped.command}`);
    const target = { kind: 'devices', deviceIds: [deviceId] };
    const oneWave = { waves: [{ percent: 100 }], minSoakSeconds: 0, seed: 1, target };
    const install = await timeRollout(
      bench,
      {
        model: 'digits',
        version: digits.version,
        ...oneWave,
        target: { kind: 'devices', deviceIds: [deviceId, `${deviceId}-shipped`] },
      },
      120,
    );
    if (install.view.status !== 'completed')
      throw new Error(`digits install: ${install.view.status} ${install.view.reason}`);
    const digitsInt8 = int8Of(digits);
    console.log(`  both agents serving digits v${digits.version} int8 (${digitsInt8.size} bytes)`);
    const shippedAgent = shipped;

    const jpeg = await cameraJpeg();
    const serving = await child.request<{ model: string; sessionOptions: Record<string, string> }>({
      op: 'activeModel',
    });
    const beforeFrames = await child.request<{ rss: number }>({ op: 'usage' });
    const shippedBeforeFrames = shippedAgent.memory();
    if (options.cpuProf) await child.request({ op: 'profile', action: 'start' });
    const frames = await measureRounds({
      rounds,
      seconds,
      concurrency,
      jpeg,
      serving,
      bareChild,
      tsx: { localUrl, cpuMs: async () => (await child.request<{ ms: number }>({ op: 'cpu' })).ms },
      shipped: { localUrl: shippedAgent.localUrl, cpuMs: () => shippedAgent.cpuMs() },
    });
    await bareChild.stop();
    if (options.cpuProf) {
      await child.request({ op: 'profile', action: 'stop', file: options.cpuProf });
      console.log(`  wrote the agent process's CPU profile over the rounds to ${options.cpuProf}`);
    }
    const afterFrames = await child.request<{ rss: number; peakRss: number }>({ op: 'usage' });
    const shippedAfterFrames = shippedAgent.memory();
    const memory = (u: Record<string, number>) =>
      Object.entries(u)
        .map(([k, v]) => `${k} ${mb(v)}`)
        .join(', ');
    console.log(`  agent memory (MB) before the frames: ${memory(beforeFrames)}`);
    console.log(`  agent memory (MB) after the frames: ${memory(afterFrames)}`);
    console.log(
      `  shipped agent memory (MB) before the frames: ${memory(shippedBeforeFrames)}; after: ${memory(shippedAfterFrames)}`,
    );
    // Both agents idle over the same window.
    const shippedIdleStart = { cpuMs: shippedAgent.cpuMs(), at: performance.now() };
    const idle = await child.request<{ cpuFraction: number }>({ op: 'idle', seconds: idleSeconds });
    const shippedIdle =
      (shippedAgent.cpuMs() - shippedIdleStart.cpuMs) / (performance.now() - shippedIdleStart.at);

    const downloads: DownloadRun[] = [];
    for (const version of large) {
      const variant = int8Of(version);
      const before = await bench.bytesPublished();
      const startedAt = Date.now();
      const rollout = await timeRollout(bench, { model: 'mlp', version: version.version, ...oneWave }, 120);
      const served = modelEvents.find((e) => e.sha === variant.sha256 && e.at >= startedAt);
      downloads.push({
        version: version.version,
        model_bytes: variant.size,
        status: rollout.view.status,
        seconds_to_serving: served ? round((served.at - startedAt) / 1000, 2) : null,
        seconds_to_cloud_sees_active: rollout.activeAt === null ? null : round(rollout.activeAt, 2),
        cloud_bytes_published: (await bench.bytesPublished()) - before,
      });
      console.log(`  download+activate ${variant.size} B: ${JSON.stringify(downloads.at(-1))}`);
    }
    const afterDownloads = await child.request<{ rss: number; peakRss: number }>({ op: 'usage' });

    const measured = {
      seconds,
      rounds,
      idleSeconds,
      agentNodeOptions,
      model: { version: digits.version, bytes: digitsInt8.size },
      jpegBytes: jpeg.length,
      frames,
      tsx: { before: beforeFrames, after: afterFrames, afterDownloads, idleCpuFraction: idle.cpuFraction },
      shipped: {
        command: shippedAgent.command,
        before: shippedBeforeFrames,
        after: shippedAfterFrames,
        idleCpuFraction: shippedIdle,
      },
      downloads,
    };
    result = agentReport(measured);
    printAgentTable(measured);
  } finally {
    await bareChild.stop();
    const stopped = await shipped?.stop();
    if (stopped && (stopped.code !== 0 || !stopped.graceful))
      console.log(`  shipped agent stop: exit ${stopped.code}, graceful ${stopped.graceful}`);
    await child.stop();
    await bench.close();
  }
  await writeAgentReport(result);
}
