// The scheduler's shadow phase, drift gate and alias promotion on a real database (PGlite, and
// PostgreSQL when DATABASE_URL is set) with the real registry and a fake bridge playing the devices.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModelRef } from '@edgeloop/shared';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../db/index.ts';
import { devices } from '../db/schema.ts';
import { testDatabases } from '../db/testing.ts';
import { windowRow } from '../ingest/window-row.ts';
import { insertWindows } from '../ingest/window-writer.ts';
import { FsArtifactStore } from '../registry/artifact-store.ts';
import { ModelRegistry } from '../registry/model-registry.ts';
import type { VersionRecord } from '../registry/records.ts';
import { SigningKeys } from '../registry/signing-keys.ts';
import { CLASSES, registration } from '../registry/test-fixtures.ts';
import { RolloutScheduler } from './scheduler.ts';
import { RolloutService } from './service.ts';
import { FakeBridge, telemetryWindow, testProfile } from './testing.ts';

const profiles = new Map([['sim-int8', testProfile('sim-int8', 'int8')]]);
const S = 1000;

describe.each(testDatabases())('RolloutScheduler shadow, drift gate and alias on $name', ({ open }) => {
  let database: Database;
  let dir: string;
  let registry: ModelRegistry;
  let v1: VersionRecord;
  let v2: VersionRecord;
  let clock = 1_000_000;
  let bridge: FakeBridge;
  let service: RolloutService;
  let scheduler: RolloutScheduler;
  let fleetCounter = 0;
  let seq = 0;

  const refOf = (version: VersionRecord): ModelRef => {
    const v = version.variants.find((x) => x.variant === 'int8')!;
    return { name: 'digits', version: String(version.version), variant: 'int8', sha256: v.sha256 };
  };

  async function fleet(n: number): Promise<{ group: string; ids: string[] }> {
    const group = `s${++fleetCounter}`;
    const ids = Array.from({ length: n }, (_, i) => `${group}-d${i}`);
    const active = refOf(v1);
    await database.db.insert(devices).values(
      ids.map((id) => ({
        id,
        deviceClass: 'sim-int8',
        tags: [group],
        connection: 'online' as const,
        reported: {
          v: 1,
          generation: 0,
          rolloutId: null,
          active,
          previous: null,
          phase: { state: 'active', sha256: active.sha256 },
          at: 1,
        },
      })),
    );
    return { group, ids };
  }

  /** Shadow windows from `ids`: `frames` each, `agreements` of them agreeing; ingested too. */
  async function shadowTelemetry(ids: readonly string[], frames: number, agreements: number) {
    const windows = ids.map((id) =>
      telemetryWindow(id, refOf(v1), clock, {
        p95: 4,
        shadow: {
          model: refOf(v2),
          frames,
          agreements,
          errors: 0,
          latencyMs: { count: frames, min: 1, p50: 3, p95: 7, p99: 8, max: 9, mean: 3 },
        },
      }),
    );
    for (const w of windows) bridge.telemetry({ ...w, seq: ++seq });
    await insertWindows(
      database.db,
      windows.map((w) => windowRow(w.deviceId, { ...w, seq: ++seq }, new Date(clock))),
    );
  }

  async function allActive(ids: readonly string[]) {
    for (const id of ids) {
      const desired = bridge.lastDesired(id);
      if (desired?.model) await bridge.answer(id, { state: 'active', sha256: desired.model.manifest.sha256 });
    }
  }

  beforeAll(async () => {
    database = await open();
    dir = await mkdtemp(join(tmpdir(), 'edgeloop-rollouts-loop-'));
    registry = new ModelRegistry({
      db: database.db,
      store: new FsArtifactStore(join(dir, 'artifacts')),
      signer: SigningKeys.generate(),
    });
    await registry.createModel({ name: 'digits', classes: CLASSES });
    v1 = await registry.registerVersion(registration('digits', 1));
    v2 = await registry.registerVersion(registration('digits', 2));
    bridge = new FakeBridge(database.db);
    service = new RolloutService({
      db: database.db,
      registry,
      profiles: async () => profiles,
      now: () => clock,
    });
  });
  afterEach(async () => {
    await scheduler?.stop();
  });
  afterAll(async () => {
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function start(): Promise<RolloutScheduler> {
    scheduler = new RolloutScheduler({ database, bridge, registry, autoTick: false, now: () => clock });
    await scheduler.start();
    return scheduler;
  }

  it('shadows the first wave, passes on agreement, then rolls out and promotes the alias', async () => {
    const { group, ids } = await fleet(4);
    const view = await service.create({
      model: 'digits',
      version: 2,
      target: { kind: 'tags', tags: [group] },
      waves: [{ percent: 50 }, { percent: 100 }],
      minSoakSeconds: 0,
      shadow: { rate: 0.5, minAgreement: 0.9, minFrames: 100, soakSeconds: 60 },
      promoteAlias: 'champion',
      seed: 4,
    });
    expect(view.shadow).toMatchObject({ status: 'pending', wave: 0, result: null });
    const s = await start();
    await s.tick();
    const shadowed = bridge.published.filter((p) => ids.includes(p.deviceId));
    expect(shadowed).toHaveLength(2);
    for (const { desired } of shadowed) {
      // The current model stays; the new one rides along as the shadow.
      expect(desired.model?.manifest.sha256).toBe(refOf(v1).sha256);
      expect(desired.shadow).toMatchObject({ rate: 0.5, model: { manifest: { version: '2' } } });
    }
    const canary = shadowed.map((p) => p.deviceId);
    clock += 30 * S;
    await shadowTelemetry(canary, 60, 57);
    const live = await service.get(view.id);
    expect(live.shadow).toMatchObject({
      status: 'running',
      devices: 2,
      live: true,
      result: { frames: 120, agreements: 114, agreement: 0.95, p95LatencyMs: 7, activeP95LatencyMs: 4 },
    });
    clock += 30 * S;
    await s.tick(); // soaked, 120 frames at 95%: passes and sends the wave its new model
    const passed = await service.get(view.id);
    expect(passed.shadow).toMatchObject({ status: 'passed', live: false, result: { agreement: 0.95 } });
    for (const id of canary) {
      expect(bridge.lastDesired(id)?.model?.manifest.sha256).toBe(refOf(v2).sha256);
      expect(bridge.lastDesired(id)?.shadow).toBeNull();
    }
    await allActive(canary);
    await s.tick();
    await s.tick();
    await allActive(ids);
    await s.tick();
    await s.tick();
    const done = await service.get(view.id);
    expect(done).toMatchObject({ status: 'completed', totals: { active: 4 } });
    expect((await registry.resolveAlias('digits', 'champion')).version).toBe(2);
    const events = await service.events(view.id);
    expect(events.map((e) => e.kind).filter((k) => !k.startsWith('device.'))).toEqual([
      'rollout.created',
      'shadow.started',
      'shadow.passed',
      'wave.started',
      'wave.soaking',
      'wave.passed',
      'wave.started',
      'wave.soaking',
      'wave.passed',
      'rollout.completed',
      'alias.promoted',
    ]);
    expect(events.at(-1)).toMatchObject({
      reason: 'digits alias champion now points at v2 (new alias)',
      data: { alias: 'champion', version: 2, previousVersion: null },
    });
  });

  it('rolls back a failing shadow phase by removing the shadow; no device switched, no alias moved', async () => {
    await registry.setAlias('digits', 'steady', 1);
    const { group, ids } = await fleet(2);
    const view = await service.create({
      model: 'digits',
      version: 2,
      target: { kind: 'tags', tags: [group] },
      waves: [{ percent: 50 }, { percent: 100 }],
      shadow: { rate: 1, minAgreement: 0.9, minFrames: 50, soakSeconds: 0 },
      promoteAlias: 'steady',
    });
    const s = await start();
    await s.tick();
    const canary = ids.filter((id) => bridge.lastDesired(id)?.shadow);
    expect(canary).toHaveLength(1);
    await shadowTelemetry(canary, 100, 60);
    await s.tick();
    const failed = await service.get(view.id);
    expect(failed).toMatchObject({
      status: 'rolled_back',
      rolledBackBy: null,
      shadow: { status: 'failed', devices: 0 },
    });
    expect(failed.reason).toMatch(/^shadow phase failed: agreement 60\.0% over 100 frame\(s\)/);
    const desired = bridge.lastDesired(canary[0]!);
    expect(desired?.shadow).toBeNull();
    expect(desired?.model?.manifest.sha256).toBe(refOf(v1).sha256);
    expect(
      bridge.published.filter((p) => ids.includes(p.deviceId) && p.desired.model?.manifest.version === '2'),
    ).toEqual([]);
    expect((await registry.resolveAlias('digits', 'steady')).version).toBe(1);
    const kinds = (await service.events(view.id)).map((e) => e.kind);
    expect(kinds).toEqual(expect.arrayContaining(['shadow.failed', 'rollout.rolling_back', 'shadow.undone']));
  });

  it('removes the shadow after an operator aborts the phase, even though the rollout has finished', async () => {
    const { group, ids } = await fleet(2);
    const view = await service.create({
      model: 'digits',
      version: 2,
      target: { kind: 'tags', tags: [group] },
      waves: [{ percent: 100 }],
      shadow: { rate: 0.2 },
    });
    const s = await start();
    await s.tick();
    expect(ids.every((id) => bridge.lastDesired(id)?.shadow)).toBe(true);
    await service.abort(view.id, 'erin');
    await s.tick();
    expect(ids.map((id) => bridge.lastDesired(id)?.shadow)).toEqual([null, null]);
    expect((await service.get(view.id)).shadow).toMatchObject({ status: 'cancelled', devices: 0 });
  });

  it('records a skipped drift gate with its reason and lets the wave pass', async () => {
    const { group, ids } = await fleet(2);
    const view = await service.create({
      model: 'digits',
      version: 2,
      target: { kind: 'tags', tags: [group] },
      waves: [{ percent: 100 }],
      minSoakSeconds: 60,
      gates: { drift: { maxIncrease: 0.1 } },
    });
    const s = await start();
    await s.tick();
    await allActive(ids);
    await s.tick(); // soaking: the gates are measured from now on
    clock += 60 * S;
    await s.tick();
    const done = await service.get(view.id);
    expect(done.status).toBe('completed');
    const passed = (await service.events(view.id)).find((e) => e.kind === 'wave.passed');
    // The fixtures register versions without a (valid) reference profile.
    expect(passed?.data?.gates).toEqual([
      {
        gate: 'drift',
        verdict: 'inconclusive',
        reason: 'drift: skipped: v2 has no reference profile',
        candidate: null,
        baseline: null,
      },
    ]);
  });

  it('refuses a bad shadow policy or alias with a clear validation error', async () => {
    const { group } = await fleet(1);
    const base = { model: 'digits', version: 2, target: { kind: 'tags' as const, tags: [group] } };
    await expect(service.create({ ...base, shadow: { rate: 0 } })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringMatching(/shadow\.rate/),
    });
    await expect(service.create({ ...base, promoteAlias: 'Champion!' })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringMatching(/promoteAlias/),
    });
  });
});
