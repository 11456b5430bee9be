// The bundled agent as a device runs it: `build.mjs` bundles it into a temporary folder,
// onnxruntime-node and sharp are linked beside the bundle (where `npm install` puts them on a device),
// and plain Node runs it, with no tsx. Its command line must be `edgeloop agent start`'s: same help,
// same exit codes, same validation messages. It then runs end to end against a broker and a fake
// cloud: a signed model is downloaded, verified and served, and SIGTERM stops the agent gracefully.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, realpath, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_USAGE } from './cli.ts';
import { brightnessModel, signedDesired, solidImage, uniqueDeviceId } from './testing/agent-fixtures.ts';
import { startTestBroker, type TestBroker } from './testing/broker.ts';
import { eventually, FakeCloud } from './testing/fake-cloud.ts';
import { testSigningKey } from './testing/fixtures.ts';

const agentDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const repoDir = join(agentDir, '..');
const EXTERNAL_NATIVE = ['onnxruntime-node', 'sharp'];

/** The environment without any agent configuration inherited from the shell or CI (e.g. MQTT_URL). */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('EDGELOOP_') && k !== 'MQTT_URL' && k !== 'NODE_OPTIONS') env[k] = v;
  }
  return { ...env, ...extra };
}

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

function collect(child: ChildProcess): { out: () => string; err: () => string; done: Promise<Finished> } {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const done = new Promise<Finished>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { out: () => stdout, err: () => stderr, done };
}

function run(args: string[], env = cleanEnv()): Promise<Finished> {
  return collect(spawn(process.execPath, args, { cwd: tmpdir(), env })).done;
}

let dir: string;
let bundle: string;
let broker: TestBroker;
let cloud: FakeCloud;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgeloop-bundle-'));
  const built = await run([join(agentDir, 'build.mjs'), '--outdir', join(dir, 'opt')]);
  expect(built.code, built.stderr).toBe(0);
  bundle = join(dir, 'opt', 'edgeloop-agent.mjs');
  // What `npm install onnxruntime-node sharp` leaves next to the bundle on a device.
  await mkdir(join(dir, 'opt', 'node_modules'));
  for (const name of EXTERNAL_NATIVE) {
    const packageDir = await realpath(join(agentDir, 'node_modules', name));
    await symlink(packageDir, join(dir, 'opt', 'node_modules', name), 'dir');
  }
  broker = await startTestBroker();
  cloud = await FakeCloud.connect(broker.url);
});

afterAll(async () => {
  await cloud?.close();
  await broker?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the bundled agent (edgeloop-agent.mjs)', () => {
  it('prints the agent usage for --help, with or without `agent start`', async () => {
    const argvs = [['--help'], ['agent', 'start', '--help'], ['start', '-h']];
    const results = await Promise.all(argvs.map((args) => run([bundle, ...args])));
    for (const [i, r] of results.entries()) {
      expect(r.code, argvs[i]?.join(' ')).toBe(0);
      expect(r.stdout).toBe(AGENT_USAGE);
    }
  });

  it('fails like `edgeloop agent start` on a bad command line or configuration', async () => {
    const cases = [
      { args: ['--colour', 'red'], code: 2 },
      { args: ['--device-id', 'Bad Id', '--token', 't'], code: 2 },
      { args: [], code: 2 },
    ];
    const source = (args: string[]) => run([join(repoDir, 'bin', 'edgeloop.mjs'), 'agent', 'start', ...args]);
    const results = await Promise.all(
      cases.map(async (c) => ({
        ...c,
        bundled: await run([bundle, 'agent', 'start', ...c.args]),
        fromSource: await source(c.args),
      })),
    );
    for (const { args, code, bundled, fromSource } of results) {
      expect([bundled.code, fromSource.code], args.join(' ')).toEqual([code, code]);
      expect(bundled.stdout).toBe('');
    }
    const [unknown, badId, empty] = results;
    expect(unknown?.bundled.stderr).toMatch(/^edgeloop agent start: Unknown option '--colour'/);
    expect(unknown?.fromSource.stderr).toMatch(/^edgeloop agent start: Unknown option '--colour'/);
    // Validation runs in the same code on both paths, so the message is the same to the byte.
    expect(badId?.bundled.stderr).toMatch(
      /VALIDATION_FAILED: .*deviceId \(--device-id \/ EDGELOOP_DEVICE_ID\)/,
    );
    expect(badId?.bundled.stderr).toBe(badId?.fromSource.stderr);
    expect(empty?.bundled.stderr).toBe(empty?.fromSource.stderr);
  }, 120_000); // the source CLI starts through tsx and loads the cloud: seconds per run on a busy machine

  it('runs end to end with plain Node: built-in profile, model download, /infer, graceful SIGTERM', async () => {
    const key = testSigningKey();
    const deviceId = uniqueDeviceId('bundle');
    const dataDir = join(dir, 'data');
    const child = spawn(
      process.execPath,
      [
        '--max-semi-space-size=1', // as the systemd unit runs it
        bundle,
        'agent',
        'start',
        '--device-id',
        deviceId,
        '--profile',
        'simulated', // resolved from the profiles copied next to the bundle
        '--broker',
        broker.url,
        '--data-dir',
        dataDir,
        '--trusted-key',
        Buffer.from(key.publicRaw).toString('base64'),
        '--api-port',
        '0',
      ],
      { cwd: dir, env: cleanEnv({ EDGELOOP_TOKEN: 'from-env' }) },
    );
    const io = collect(child);
    try {
      const localUrl = await eventually(
        () => /serving on (http:\/\/127\.0\.0\.1:\d+)/.exec(io.out())?.[1],
        15_000,
        `the agent to serve (stderr: ${io.err()})`,
      );
      expect((await fetch(`${localUrl}/healthz`)).status).toBe(503);

      const model = brightnessModel('1');
      cloud.addArtifact(model.bytes);
      await cloud.publishDesired(deviceId, signedDesired({ generation: 1, model, key }));
      await eventually(
        async () => (await fetch(`${localUrl}/healthz`)).status === 200,
        15_000,
        'the model to serve',
      );
      // The report travels over MQTT after the swap: wait for it rather than race it.
      await eventually(
        () => cloud.lastReported(deviceId)?.active?.sha256 === model.manifest.sha256 || undefined,
        15_000,
        'the cloud to hear the model is active',
      );
      const response = await fetch(`${localUrl}/infer`, {
        method: 'POST',
        body: await solidImage(255, 'jpeg'),
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ label: 'bright', model: { version: '1' } });

      child.kill('SIGTERM');
      const finished = await io.done;
      expect(finished.code, finished.stderr).toBe(0);
      expect(finished.stderr).toMatch(/"agent\.stopped".*"graceful":true/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
