// The measured child processes of `pnpm bench agent`, forked as `child.ts --child` (rollout/process.ts):
// one runs the tsx agent (`startAgent` from source, provisioned through the cloud's API), the other
// the bare path. Each answers the bench's `{ op }` requests over IPC. Nothing here loads the cloud:
// the agent process's RSS is what is measured.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getHeapSpaceStatistics } from 'node:v8';
import { type AgentHandle, HttpDeviceProvisioner, startAgent } from '@edgeloop/edge-agent';
import { serveParent, sleep } from '../rollout/process.ts';
import { bare, type ServingModelBytes } from './bare.ts';

export const CHILD_FILE = fileURLToPath(import.meta.url);

async function agentChild(): Promise<void> {
  let agent: AgentHandle | undefined;
  let dataDir = '';
  let peakRss = 0;
  const sampleRss = () => {
    const rss = process.memoryUsage.rss();
    peakRss = Math.max(peakRss, rss);
    return rss;
  };
  const sampler = setInterval(sampleRss, 100);
  let profiler: Session | undefined;
  serveParent(async (m) => {
    switch (m.op) {
      case 'init':
        return null;
      case 'start': {
        dataDir = await mkdtemp(join(tmpdir(), 'edgeloop-bench-agent-'));
        const deviceId = String(m.deviceId);
        const credentials = await new HttpDeviceProvisioner({
          cloudUrl: String(m.cloudUrl),
          apiToken: String(m.apiToken),
          credentialsDir: join(dataDir, 'credentials'),
        }).provision({ deviceId, deviceClass: 'simulated' });
        agent = await startAgent({
          deviceId,
          token: credentials.token,
          brokerUrl: credentials.brokerUrl as string,
          cloudUrl: String(m.cloudUrl),
          profile: 'simulated',
          dataDir: join(dataDir, 'agent'),
          trustedKeys: [],
          api: { host: '127.0.0.1', port: 0 },
        });
        // The moment a model starts serving, from the agent's own event (no polling timer in the
        // measured process).
        agent.events.on('modelServing', serveParent, (e) =>
          process.send?.({ event: 'model', sha: e.model?.sha256 ?? null, at: Date.now() }),
        );
        return { localUrl: agent.localUrl };
      }
      case 'profile': {
        // `--cpu-prof FILE`: the V8 CPU profile of this process over the measured rounds.
        if (m.action === 'start') {
          profiler = new Session();
          profiler.connect();
          await profiler.post('Profiler.enable');
          await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
          await profiler.post('Profiler.start');
          return null;
        }
        if (!profiler) throw new Error('profiler not started');
        const { profile } = await profiler.post('Profiler.stop');
        profiler.disconnect();
        profiler = undefined;
        await writeFile(String(m.file), JSON.stringify(profile));
        return null;
      }
      case 'cpu': {
        const { user, system } = process.cpuUsage();
        return { ms: (user + system) / 1000 };
      }
      case 'usage': {
        const { heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
        const spaces = Object.fromEntries(
          getHeapSpaceStatistics().map((sp) => [sp.space_name, sp.space_size]),
        );
        return { rss: sampleRss(), peakRss, heapTotal, heapUsed, external, arrayBuffers, ...spaces };
      }
      case 'idle': {
        const before = process.cpuUsage();
        const started = performance.now();
        await sleep(Number(m.seconds) * 1000);
        const used = process.cpuUsage(before);
        return { cpuFraction: (used.user + used.system) / 1000 / (performance.now() - started) };
      }
      case 'activeModel': {
        const { bytes, sessionOptions } = await activeModel();
        return { model: Buffer.from(bytes).toString('base64'), sessionOptions };
      }
      case 'bare':
        return bare(
          Buffer.from(String(m.jpeg), 'base64'),
          Number(m.seconds),
          {
            bytes: new Uint8Array(Buffer.from(String(m.model), 'base64')),
            sessionOptions: m.sessionOptions as Record<string, string>,
          },
          Number(m.concurrency ?? 1),
        );
      case 'stop':
        clearInterval(sampler);
        await agent?.stop();
        if (dataDir) await rm(dataDir, { recursive: true, force: true });
        setImmediate(() => process.exit(0));
        return null;
      default:
        throw new Error(`unknown op ${String(m.op)}`);
    }
  });

  /** The serving model's bytes and session options, from the agent's slot on disk. */
  async function activeModel(): Promise<ServingModelBytes> {
    const sha = agent?.status().model?.sha256;
    const slots = join(dataDir, 'agent', 'models', 'slots');
    for (const slot of await readdir(slots)) {
      const path = join(slots, slot, 'model.onnx');
      if (!existsSync(path)) continue;
      const bytes = new Uint8Array(await readFile(path));
      if (createHash('sha256').update(bytes).digest('hex') !== sha) continue;
      const signed = JSON.parse(await readFile(join(slots, slot, 'manifest.json'), 'utf8'));
      return { bytes, sessionOptions: signed.manifest?.sessionOptions ?? {} };
    }
    throw new Error(`serving model ${sha} not found in ${slots}`);
  }
}

if (process.argv[1] === CHILD_FILE && process.argv.includes('--child')) await agentChild();
