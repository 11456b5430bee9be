// `edgeloop rollout …` through the real dispatcher against the real API over HTTP, with the
// scheduler driven by hand and the devices played by a fake bridge.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiFixture } from '../api/testing.ts';
import { type HttpServerHandle, startHttpServer } from '../cloud/http-server.ts';
import type { Database } from '../db/index.ts';
import { type TestDatabase, testDatabases } from '../db/testing.ts';
import { silentLogger } from '../log/index.ts';
import { FsArtifactStore } from '../registry/artifact-store.ts';
import { ModelRegistry } from '../registry/model-registry.ts';
import { SigningKeys } from '../registry/signing-keys.ts';
import { CLASSES, registration } from '../registry/test-fixtures.ts';
import { RolloutScheduler } from '../rollouts/scheduler.ts';
import { RolloutService } from '../rollouts/service.ts';
import { FakeBridge, testProfile } from '../rollouts/testing.ts';
import { CLEAR_SCREEN } from './rollout-view.ts';
import { runCli } from './testing.ts';

// The CLI is a client of the API: one database (the embedded one) is enough here.
const pglite = testDatabases()[0] as TestDatabase;

describe('edgeloop rollout', () => {
  let database: Database;
  let dir: string;
  let http: HttpServerHandle;
  let env: Record<string, string | undefined>;
  let scheduler: RolloutScheduler;
  let bridge: FakeBridge;

  const run = (
    argv: string[],
    options: { tty?: boolean; stop?: AbortSignal; onOut?: (out: string) => void } = {},
  ) =>
    runCli(argv, {
      env,
      logSink: { write: () => true, isTTY: options.tty === true },
      stop: options.stop ?? new AbortController().signal,
      ...(options.onOut ? { onOut: options.onOut } : {}),
    });

  beforeAll(async () => {
    database = await pglite.open();
    dir = await mkdtemp(join(tmpdir(), 'edgeloop-rollout-cli-'));
    const registry = new ModelRegistry({
      db: database.db,
      store: new FsArtifactStore(join(dir, 'artifacts')),
      signer: SigningKeys.generate(),
    });
    await registry.createModel({ name: 'digits', classes: CLASSES });
    await registry.registerVersion(registration('digits', 1));
    await registry.registerVersion(registration('digits', 2, { aliases: ['challenger'] }));
    const service = new RolloutService({
      db: database.db,
      registry,
      profiles: async () => new Map([['simulated', testProfile('simulated', 'int8')]]),
    });
    const fx = await createApiFixture(database.db, { rollouts: service });
    for (const id of ['cam-0', 'cam-1', 'cam-2']) {
      await fx.request('POST', '/api/v1/devices', {
        body: { id, deviceClass: 'simulated', tags: ['pilot'] },
      });
    }
    http = await startHttpServer(fx.app.fetch, { host: '127.0.0.1', port: 0, logger: silentLogger });
    env = { EDGELOOP_CLOUD: http.url, EDGELOOP_TOKEN: fx.tokens.operator };
    bridge = new FakeBridge(database.db);
    scheduler = new RolloutScheduler({ database, bridge, registry, autoTick: false });
    await scheduler.start();
  });
  afterAll(async () => {
    await scheduler?.stop();
    await http?.close(1000);
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a rollout, refuses an overlap, and follows it live to the end', async () => {
    const usage = await run(['rollout', 'create', 'digits', '2', '--tag', 'pilot', '--group', 'x']);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/give exactly one target/);

    const created = await run([
      'rollout',
      'create',
      'digits',
      '@challenger',
      '--tag',
      'pilot',
      '--waves',
      '1,100%',
      '--soak',
      '0',
      '--seed',
      '3',
    ]);
    expect(created.code).toBe(0);
    const id = /Created rollout (ro-[0-9a-f]+)/.exec(created.out)?.[1] as string;
    expect(id).toBeDefined();
    expect(created.out).toMatch(/digits v2 {2}RUNNING {2}\(tags pilot\)/);
    expect(created.out).toMatch(
      /WAVE\s+STATUS\s+DEVICES\s+PENDING\s+DOWNLOADING\s+ACTIVE\s+FAILED\s+TIMED OUT/,
    );
    expect(created.out).toMatch(/\n0\s+pending\s+1\s+1\s+0\s+0\s+0\s+0/);

    const overlap = await run(['rollout', 'create', 'digits', '1', '--device', 'cam-2', '--device', 'cam-0']);
    expect(overlap.code).toBe(1);
    expect(overlap.err).toMatch(
      /2 device\(s\) are already in unfinished rollout\(s\) ro-.*: cam-0, cam-2 \[CONFLICT\]/,
    );

    const listed = await run(['rollout', 'list', '--status', 'running']);
    expect(listed.out).toMatch(new RegExp(`${id}\\s+rollout\\s+digits v2\\s+running\\s+1/2\\s+0/3`));

    // Watch in the background while the scheduler moves the rollout and the devices answer.
    const watching = run(['rollout', 'show', id, '--watch', '--interval', '0.02']);
    for (
      let round = 0;
      round < 50 && (await run(['rollout', 'show', id, '--json'])).out.includes('"running"');
      round++
    ) {
      await scheduler.tick();
      for (const { deviceId, desired } of bridge.published) {
        if (desired.model)
          await bridge.answer(deviceId, { state: 'active', sha256: desired.model.manifest.sha256 });
      }
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    const watched = await watching;
    expect(watched.code).toBe(0);
    const frames = watched.out.split(/\n(?=Rollout )/);
    expect(frames.length).toBeGreaterThan(1);
    expect(frames[0]).toMatch(/RUNNING/);
    expect(frames.at(-1)).toMatch(/COMPLETED/);
    expect(frames.at(-1)).toMatch(/\[#{20}\] 3\/3 active/);
    expect(frames.at(-1)).toMatch(/rollout\.completed/);
    expect(watched.out).not.toContain(CLEAR_SCREEN);
  });

  it('redraws in place on a TTY until stopped, and commands a rollout', async () => {
    const created = await run(['rollout', 'create', 'digits', '1', '--device', 'cam-1', '--json']);
    const { id } = JSON.parse(created.out) as { id: string };
    const stop = new AbortController();
    // Stop once it has redrawn twice (not after a fixed time: a loaded machine draws slower).
    const watching = run(['rollout', 'show', id, '--watch', '--interval', '0.02'], {
      tty: true,
      stop: stop.signal,
      onOut: (out) => {
        if (out.split(CLEAR_SCREEN).length > 3) stop.abort();
      },
    });
    const watched = await watching;
    expect(watched.code).toBe(0);
    expect(watched.out.startsWith(CLEAR_SCREEN)).toBe(true);
    expect(watched.out.split(CLEAR_SCREEN).length).toBeGreaterThan(2);

    expect((await run(['rollout', 'pause', id, '--reason', 'hold'])).out).toBe(`Rollout ${id} is paused.\n`);
    expect((await run(['rollout', 'pause', id])).err).toMatch(
      /it is paused \(only a running rollout can be paused\) \[CONFLICT\]/,
    );
    expect((await run(['rollout', 'resume', id])).out).toBe(`Rollout ${id} is running.\n`);
    expect((await run(['rollout', 'abort', id])).out).toBe(`Rollout ${id} is aborted.\n`);
    const shown = await run(['rollout', 'show', id, '--events']);
    expect(shown.out).toMatch(/rollout\.paused\s+wave 0: hold/);
  });
  it('creates a rollout with a shadow phase, the drift gate and an alias to promote', async () => {
    const usage = await run([
      'rollout',
      'create',
      'digits',
      '2',
      '--device',
      'cam-2',
      '--shadow-frames',
      '9',
    ]);
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/--shadow-agreement, --shadow-frames and --shadow-soak need --shadow <rate>/);
    const bad = await run(['rollout', 'create', 'digits', '2', '--device', 'cam-2', '--shadow', '2']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/shadow\.rate/);

    const created = await run([
      'rollout',
      'create',
      'digits',
      '2',
      '--device',
      'cam-2',
      '--shadow',
      '0.2',
      '--shadow-frames',
      '50',
      '--max-drift-increase',
      '0.15',
      '--promote',
      'champion',
      '--json',
    ]);
    expect(created.code).toBe(0);
    const view = JSON.parse(created.out) as { id: string; policy: Record<string, unknown> };
    expect(view.policy).toMatchObject({
      shadow: { rate: 0.2, minFrames: 50, minAgreement: 0.9, soakSeconds: 300 },
      gates: { drift: { maxIncrease: 0.15, minSamples: 200 }, errorRate: { maxIncrease: 0.05 } },
      promoteAlias: 'champion',
    });
    await scheduler.tick();
    const shown = await run(['rollout', 'show', view.id]);
    expect(shown.out).toMatch(/shadow: RUNNING before wave 1 \(rate 0\.2, 1 device\(s\) shadowing\)/);
    expect(shown.out).toMatch(/agreement - \(min 90\.0%\) over 0\/50 frames/);
    expect(shown.out).toMatch(/on completion: alias champion → v2/);
    expect((await run(['rollout', 'abort', view.id])).out).toBe(`Rollout ${view.id} is aborted.\n`);
  });
});
