// The agent as a device runs it: the esbuild bundle (edge-agent/build.mjs → edgeloop-agent.mjs) on
// plain Node, with the Node flags of the systemd unit's ExecStart and its configuration in EDGELOOP_*
// variables, as the unit's environment file gives it. No IPC: it is a black box, measured from
// outside through /proc (RSS, peak RSS, CPU time) and its local API.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpDeviceProvisioner } from '@edgeloop/edge-agent';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BUNDLE = join(root, 'edge-agent', 'dist', 'edgeloop-agent.mjs');
export const SYSTEMD_UNIT = join(root, 'deploy', 'systemd', 'edgeloop-agent.service');
/** What the bundle is built from: a source newer than the bundle means it must be rebuilt. */
const SOURCES = ['edge-agent/src', 'edge-agent/build.mjs', 'shared/src', 'firmware-configs'];

/** The Node flags between `node` and the script in the systemd unit's ExecStart, so the bench cannot drift from it. */
export function systemdNodeFlags(unit = SYSTEMD_UNIT): string[] {
  const line = readFileSync(unit, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('ExecStart='));
  if (!line) throw new Error(`${unit}: no ExecStart=`);
  const words = line.slice('ExecStart='.length).trim().split(/\s+/);
  const script = words.findIndex((w) => w.endsWith('.mjs'));
  if (script < 1) throw new Error(`${unit}: ExecStart does not run a .mjs script: ${line}`);
  return words.slice(1, script);
}

/**
 * The unit's own `Environment=` settings outside edgeloop's (NODE_ENV, allocator tuning), which the
 * bench gives the shipped agent as systemd would. EDGELOOP_* come from the bench instead.
 */
export function systemdEnvironment(unit = SYSTEMD_UNIT): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(unit, 'utf8').split('\n')) {
    const match = /^Environment=([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match && !match[1]?.startsWith('EDGELOOP_')) env[match[1] as string] = match[2] as string;
  }
  return env;
}

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) {
    if (entry === 'node_modules') continue;
    newest = Math.max(newest, newestMtime(join(path, entry)));
  }
  return newest;
}

/** Builds the bundle when it is missing or older than its sources; returns what was done. */
export function ensureBundle(): 'built' | 'up to date' {
  if (existsSync(BUNDLE)) {
    const built = statSync(BUNDLE).mtimeMs;
    if (SOURCES.every((s) => newestMtime(join(root, s)) <= built)) return 'up to date';
  }
  const r = spawnSync(process.execPath, [join(root, 'edge-agent', 'build.mjs')], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`edge-agent/build.mjs exited with ${r.status}`);
  return 'built';
}

export const CLOCK_TICKS_PER_S =
  Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

export interface ShippedAgent {
  readonly pid: number;
  readonly localUrl: string;
  /** The command line, as recorded in the results. */
  readonly command: string;
  /** RSS and peak RSS (VmHWM) in bytes, from /proc/<pid>/status. */
  memory(): { rss: number; peakRss: number };
  /** User + system CPU time of the whole process so far, in ms (clock-tick resolution). */
  cpuMs(): number;
  stop(): Promise<{ code: number | null; graceful: boolean }>;
}

/** Provisions a device through the cloud's API and starts the bundle for it; resolves once it serves. */
export async function startShippedAgent(options: {
  cloudUrl: string;
  apiToken: string;
  deviceId: string;
}): Promise<ShippedAgent> {
  const dir = await mkdtemp(join(tmpdir(), 'edgeloop-bench-shipped-'));
  const credentials = await new HttpDeviceProvisioner({
    cloudUrl: options.cloudUrl,
    apiToken: options.apiToken,
    credentialsDir: join(dir, 'credentials'),
  }).provision({ deviceId: options.deviceId, deviceClass: 'simulated' });
  const flags = systemdNodeFlags();
  const args = [...flags, BUNDLE, 'agent', 'start'];
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('EDGELOOP_') && k !== 'NODE_OPTIONS') env[k] = v;
  Object.assign(env, systemdEnvironment(), {
    EDGELOOP_DEVICE_ID: options.deviceId,
    EDGELOOP_TOKEN: credentials.token,
    EDGELOOP_PROFILE: 'simulated',
    EDGELOOP_CLOUD_URL: options.cloudUrl,
    EDGELOOP_BROKER_URL: credentials.brokerUrl as string,
    EDGELOOP_DATA_DIR: join(dir, 'agent'),
    EDGELOOP_API_HOST: '127.0.0.1',
    EDGELOOP_API_PORT: '0',
  });
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const localUrl = await servingUrl(child);
  const pid = child.pid as number;
  const proc = (file: string) => readFileSync(`/proc/${pid}/${file}`, 'utf8');
  const kb = (status: string, field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
  return {
    pid,
    localUrl,
    command: `node ${args.join(' ').replace(root, '.')}`,
    memory() {
      const status = proc('status');
      return { rss: kb(status, 'VmRSS') * 1024, peakRss: kb(status, 'VmHWM') * 1024 };
    },
    cpuMs() {
      // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
      const fields = proc('stat')
        .slice(proc('stat').lastIndexOf(')') + 2)
        .split(' ');
      return ((Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S) * 1000;
    },
    async stop() {
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString()).slice(-4096);
      });
      const exited = new Promise<number | null>((resolve) => {
        if (child.exitCode !== null) resolve(child.exitCode);
        else child.once('exit', (code) => resolve(code));
      });
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      await rm(dir, { recursive: true, force: true });
      return { code, graceful: /"agent\.stopped".*"graceful":true/.test(stderr) };
    },
  };
}

/** Waits for the "serving on <url>" line; the JSON log lines on stderr are drained (and kept, last 4 KB). */
function servingUrl(child: ChildProcess): Promise<string> {
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4096);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`shipped agent did not start in 60 s:\n${stderr}`)),
      60_000,
    );
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
      const url = /serving on (http:\/\/\S+)/.exec(stdout)?.[1];
      if (url) {
        clearTimeout(timer);
        resolve(url);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`shipped agent exited (${code}) before serving:\n${stderr}`));
    });
  });
}
