// The scheduler on a real database (PGlite always, PostgreSQL when DATABASE_URL is set) with the
// real registry and a fake bridge: the test plays the devices, a manual clock moves soak and timeouts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModelRef } from '@edgeloop/shared';
import { eq, inArray } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../db/index.ts';
import { devices, rolloutDevices, rolloutEvents, rollouts } from '../db/schema.ts';
import { testDatabases } from '../db/testing.ts';
import { FsArtifactStore } from '../registry/artifact-store.ts';
import { ModelRegistry } from '../registry/model-registry.ts';
import type { VersionRecord } from '../registry/records.ts';
import { SigningKeys } from '../registry/signing-keys.ts';
import { CLASSES, registration } from '../registry/test-fixtures.ts';
import { RolloutScheduler } from './scheduler.ts';
import { RolloutService } from './service.ts';
import { FakeBridge, telemetryWindow, testProfile } from './testing.ts';

const profiles = new Map([
  ['sim-fp32', testProfile('sim-fp32', 'fp32')],
  ['sim-int8', testProfile('sim-int8', 'int8')],
]);
const S = 1000;

describe.each(testDatabases())('RolloutScheduler on $name', ({ open }) => {
  let database: Database;
  let dir: string;
  let registry: ModelRegistry;
  let v1: VersionRecord;
  let v2: VersionRecord;
  let clock = 1_000_000;
  let bridge: FakeBridge;
  let service: RolloutService;
  const schedulers: RolloutScheduler[] = [];
  let fleetCounter = 0;

  const refOf = (version: VersionRecord, variant: 'fp32' | 'int8'): ModelRef => {
    const v = version.variants.find((x) => x.variant === variant)!;
    return { name: 'digits', version: String(version.version), variant, sha256: v.sha256 };
  };

  /** Provisions `n` devices (alternating classes) running v1, in a fresh group. */
  async function fleet(n: number): Promise<{ group: string; ids: string[] }> {
    const group = `g${++fleetCounter}`;
    const ids = Array.from({ length: n }, (_, i) => `${group}-d${i}`);
    await database.db.insert(devices).values(
      ids.map((id, i) => {
        const deviceClass = i % 2 === 0 ? 'sim-fp32' : 'sim-int8';
        const active = refOf(v1, i % 2 === 0 ? 'fp32' : 'int8');
        return {
          id,
          deviceClass,
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
        };
      }),
    );
    return { group, ids };
  }

  function scheduler(): RolloutScheduler {
    const s = new RolloutScheduler({ database, bridge, registry, autoTick: false, now: () => clock });
    schedulers.push(s);
    return s;
  }

  /** Every device in `ids` answers its last desired state with active. */
  async function allActive(ids: readonly string[]) {
    for (const id of ids) {
      const desired = bridge.lastDesired(id);
      if (desired?.model) await bridge.answer(id, { state: 'active', sha256: desired.model.manifest.sha256 });
    }
  }

  async function deviceStates(rolloutId: string) {
    const rows = await database.db
      .select({ id: rolloutDevices.deviceId, state: rolloutDevices.state, wave: rolloutDevices.wave })
      .from(rolloutDevices)
      .where(eq(rolloutDevices.rolloutId, rolloutId));
    return new Map(rows.map((r) => [r.id, r]));
  }

  beforeAll(async () => {
    database = await open();
    dir = await mkdtemp(join(tmpdir(), 'edgeloop-rollouts-'));
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
    for (const s of schedulers.splice(0)) await s.stop();
    bridge.failing.clear();
  });
  afterAll(async () => {
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('walks the waves: sends each device its variant, soaks, completes', async () => {
    const { group, ids } = await fleet(4);
    const created = await service
      .create({
        model: 'digits',
        version: 2,
        target: { kind: 'group', group: 'none' },
        seed: 5,
      })
      .catch((e: Error) => e);
    expect(created).toBeInstanceOf(Error); // a group that matches nothing is refused

    const view = await service.create(
      {
        model: 'digits',
        version: 2,
        target: { kind: 'tags', tags: [group] },
        waves: [{ percent: 25 }, { percent: 100 }],
        minSoakSeconds: 60,
        seed: 5,
      },
      'alice',
    );
    expect(view.waves.map((w) => w.counts.total)).toEqual([1, 3]);
    const s = scheduler();
    await s.start();
    expect((await s.tick()).leader).toBe(true);

    const canary = [...(await deviceStates(view.id)).values()].filter((d) => d.wave === 0).map((d) => d.id);
    expect(bridge.published.map((p) => p.deviceId)).toEqual(canary);
    // The desired state carries the signed manifest of the variant the device's profile prefers.
    for (const { deviceId, desired } of bridge.published) {
      const variant = ids.indexOf(deviceId) % 2 === 0 ? 'fp32' : 'int8';
      expect(desired.model?.manifest).toMatchObject({
        version: '2',
        variant,
        sha256: refOf(v2, variant).sha256,
      });
      expect(desired.rolloutId).toBe(view.id);
      expect(desired.model?.delivery.chunkSize).toBe(64 * 1024);
    }

    await allActive(canary);
    await s.tick(); // active → soaking
    clock += 59 * S;
    await s.tick();
    expect((await service.get(view.id)).waves[0]?.status).toBe('soaking');
    clock += S;
    await s.tick(); // soak over → wave 1 sent
    expect(bridge.published).toHaveLength(4);
    await allActive(ids);
    await s.tick();
    clock += 60 * S;
    await s.tick();
    const done = await service.get(view.id);
    expect(done).toMatchObject({ status: 'completed', totals: { total: 4, active: 4 } });
    const kinds = (await service.events(view.id)).map((e) => e.kind);
    expect(kinds.filter((k) => k.startsWith('wave.') || k.startsWith('rollout.'))).toEqual([
      'rollout.created',
      'wave.started',
      'wave.soaking',
      'wave.passed',
      'wave.started',
      'wave.soaking',
      'wave.passed',
      'rollout.completed',
    ]);
    // Finished rollouts let go of their devices.
    const claimed = await database.db
      .select()
      .from(rolloutDevices)
      .where(eq(rolloutDevices.rolloutId, view.id));
    expect(claimed.every((d) => !d.claimed)).toBe(true);
  });

  it('rolls back when the failure threshold trips: every device ends on the old model', async () => {
    const { group, ids } = await fleet(4);
    const view = await service.create({
      model: 'digits',
      version: 2,
      target: { kind: 'tags', tags: [group] },
      waves: [{ percent: 100 }],
      failureThreshold: 25,
      seed: 1,
    });
    const s = scheduler();
    await s.start();
    await s.tick();
    // The int8 devices fail their golden check, the fp32 ones activate.
    for (const [i, id] of ids.entries()) {
      const sha256 = bridge.lastDesired(id)?.model?.manifest.sha256 as string;
      if (i % 2 === 0) await bridge.answer(id, { state: 'active', sha256 });
      else
        await bridge.answer(id, {
          state: 'failed',
          sha256,
          reason: 'GOLDEN_CHECK_FAILED',
          message: 'output 0 differs by 0.5',
        });
    }
    await s.tick();
    const original = await service.get(view.id);
    expect(original.status).toBe('rolled_back');
    expect(original.reason).toBe('wave 0: 2 of 4 devices failed or rolled back (50% >= 25%)');
    expect(original.rolledBackBy).toMatch(/^ro-/);
    const rollback = await service.get(original.rolledBackBy as string);
    expect(rollback).toMatchObject({ kind: 'rollback', rollbackOf: view.id, version: 1, status: 'running' });
    expect(rollback.waves).toHaveLength(1);

    await s.tick(); // the rollback's single wave goes out at once
    for (const [i, id] of ids.entries()) {
      expect(bridge.lastDesired(id)?.model?.manifest.sha256).toBe(
        refOf(v1, i % 2 === 0 ? 'fp32' : 'int8').sha256,
      );
      expect(bridge.lastDesired(id)?.rolloutId).toBe(rollback.id);
    }
    await allActive(ids);
    await s.tick();
    expect(await service.get(rollback.id)).toMatchObject({ status: 'completed', totals: { active: 4 } });
  });

  it('resumes mid-wave after a cloud restart without sending anything twice', async () => {
    const { group, ids } = await fleet(4);
    const view = await service.create({
      model: 'digits',
      version: 2,
      target: { kind: 'tags', tags: [group] },
      waves: [{ count: 2 }, { percent: 100 }],
      minSoakSeconds: 30,
      seed: 3,
    });
    const first = scheduler();
    await first.start();
    await first.tick();
    const sentBefore = bridge.published.filter((p) => ids.includes(p.deviceId));
    expect(sentBefore).toHaveLength(2);
    await first.stop(); // the cloud goes down mid-wave

    await allActive(sentBefore.map((p) => p.deviceId)); // devices carry on meanwhile
    const second = scheduler();
    await second.start();
    await second.tick();
    expect(bridge.published.filter((p) => ids.includes(p.deviceId))).toHaveLength(2);
    clock += 30 * S;
    await second.tick();
    const sent = bridge.published.filter((p) => ids.includes(p.deviceId)).map((p) => p.deviceId);
    expect(sent).toHaveLength(4);
    expect(new Set(sent).size).toBe(4);
    expect((await service.get(view.id)).currentWave).toBe(1);
  });

  it('refuses an overlapping rollout with the conflicting devices, until the first one ends', async () => {
    const { group, ids } = await fleet(3);
    const first = await service.create({
      model: 'digits',
      version: 2,
      target: { kind: 'tags', tags: [group] },
      seed: 1,
    });
    const overlap = await service
      .create({ model: 'digits', version: 1, target: { kind: 'devices', deviceIds: [ids[2]!, ids[0]!] } })
      .catch((e: unknown) => e);
    expect(overlap).toMatchObject({
      code: 'CONFLICT',
      details: {
        conflicts: [
          { deviceId: ids[0], rolloutId: first.id },
          { deviceId: ids[2], rolloutId: first.id },
        ],
      },
    });
    expect(await database.db.select().from(rollouts).where(eq(rollouts.id, first.id))).toHaveLength(1);
    await service.abort(first.id, 'bob', 'wrong version');
    const second = await service.create({
      model: 'digits',
      version: 1,
      target: { kind: 'devices', deviceIds: [ids[2]!, ids[0]!] },
    });
    expect(second.status).toBe('running');
    const aborted = await service.events(first.id);
    expect(aborted.at(-1)).toMatchObject({ kind: 'rollout.aborted', actor: 'bob', reason: 'wrong version' });
    await service.abort(second.id, 'bob');
  });

  it('times out offline devices, then pauses instead of failing the wave', async () => {
    const { group, ids } = await fleet(2);
    await database.db.update(devices).set({ connection: 'offline' }).where(inArray(devices.id, ids));
    const view = await service.create({
      model: 'digits',
      version: 2,
      target: { kind: 'tags', tags: [group] },
      waves: [{ percent: 50 }, { percent: 100 }],
      deviceTimeoutSeconds: 120,
    });
    const s = scheduler();
    await s.start();
    await s.tick();
    clock += 119 * S;
    await s.tick();
    expect((await service.get(view.id)).waves[0]?.counts).toMatchObject({ inProgress: 1, timedOut: 0 });
    clock += S;
    await s.tick();
    const paused = await service.get(view.id);
    expect(paused.status).toBe('paused');
    expect(paused.reason).toMatch(/stalled: 0 of 1 active .* 1 timed out/);
    // The device returns, catches up from its retained desired state; the operator resumes.
    const canary = ids.find((id) => bridge.lastDesired(id)) as string;
    await allActive([canary]);
    await service.resume(view.id, 'carol');
    await s.tick();
    expect((await service.get(view.id)).waves[0]?.status).toBe('soaking');
    await service.abort(view.id, 'carol');
  });

  it('flags a device reporting an artifact it was never sent, and retries a failed publish', async () => {
    const { group, ids } = await fleet(2);
    bridge.failing.add(ids[1]!);
    const view = await service.create({
      model: 'digits',
      version: 2,
      target: { kind: 'tags', tags: [group] },
      waves: [{ percent: 100 }],
    });
    const s = scheduler();
    await s.start();
    await s.tick();
    expect((await deviceStates(view.id)).get(ids[1]!)?.state).toBe('pending');
    bridge.failing.clear();
    await s.tick();
    expect((await deviceStates(view.id)).get(ids[1]!)?.state).toBe('sent');

    await bridge.answer(ids[0]!, { state: 'active', sha256: 'c'.repeat(64) });
    await s.tick();
    const [row] = await database.db.select().from(rolloutDevices).where(eq(rolloutDevices.deviceId, ids[0]!));
    expect(row).toMatchObject({ state: 'sent', flagged: true });
    const flagged = await database.db
      .select()
      .from(rolloutEvents)
      .where(eq(rolloutEvents.kind, 'device.flagged'));
    expect(flagged.map((e) => e.deviceId)).toEqual([ids[0]]);
    expect((await service.get(view.id)).totals).toMatchObject({ active: 0, flagged: 1 });
    await service.abort(view.id, 'dave');
  });

  it('rolls back on a failed health gate measured from bridge telemetry', async () => {
    const { group, ids } = await fleet(4);
    const view = await service.create({
      model: 'digits',
      version: 2,
      target: { kind: 'tags', tags: [group] },
      waves: [{ percent: 50 }, { percent: 100 }],
      minSoakSeconds: 600,
      gates: { errorRate: { maxIncrease: 0.05 }, minInferences: 50 },
      seed: 11,
    });
    const s = scheduler();
    await s.start();
    await s.tick();
    const canary = ids.filter((id) => bridge.lastDesired(id));
    const rest = ids.filter((id) => !canary.includes(id));
    await allActive(canary);
    await s.tick();
    expect((await service.get(view.id)).waves[0]?.status).toBe('soaking');
    clock += 60 * S;
    for (const id of rest) bridge.telemetry(telemetryWindow(id, refOf(v1, 'int8'), clock, { errors: 1 }));
    for (const id of canary) bridge.telemetry(telemetryWindow(id, refOf(v2, 'int8'), clock, { errors: 30 }));
    await s.tick();
    const tripped = await service.get(view.id);
    expect(tripped.status).toBe('rolled_back');
    expect(tripped.reason).toBe(
      'wave 0: health gate failed: errorRate: error rate 0.300 vs 0.010 on the old model (max +0.05)',
    );
  });

  it('lets one scheduler drive rollouts at a time', async () => {
    const a = scheduler();
    const b = scheduler();
    await a.start();
    await b.start();
    expect((await a.tick()).leader).toBe(true);
    expect((await b.tick()).leader).toBe(false);
    await a.stop();
    expect((await b.tick()).leader).toBe(true);
  });
});
