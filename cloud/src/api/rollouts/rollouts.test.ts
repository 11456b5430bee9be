import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../db/index.ts';
import { devices, rolloutDevices } from '../../db/schema.ts';
import { testDatabases } from '../../db/testing.ts';
import { FsArtifactStore } from '../../registry/artifact-store.ts';
import { ModelRegistry } from '../../registry/model-registry.ts';
import { SigningKeys } from '../../registry/signing-keys.ts';
import { CLASSES, registration } from '../../registry/test-fixtures.ts';
import { RolloutService } from '../../rollouts/service.ts';
import { testProfile } from '../../rollouts/testing.ts';
import { createApiFixture, seedGroup } from '../testing.ts';

describe.each(testDatabases())('rollouts API on $name', ({ open }) => {
  let database: Database;
  let dir: string;
  let fx: Awaited<ReturnType<typeof createApiFixture>>;

  beforeAll(async () => {
    database = await open();
    dir = await mkdtemp(join(tmpdir(), 'edgeloop-rollout-api-'));
    const registry = new ModelRegistry({
      db: database.db,
      store: new FsArtifactStore(join(dir, 'artifacts')),
      signer: SigningKeys.generate(),
    });
    await registry.createModel({ name: 'digits', classes: CLASSES });
    await registry.registerVersion(registration('digits', 1));
    await registry.registerVersion(registration('digits', 2, { aliases: ['challenger'] }));
    const rollouts = new RolloutService({
      db: database.db,
      registry,
      // No profile for raspberry-pi-4 here: its devices are excluded.
      profiles: async () => new Map([['simulated', testProfile('simulated', 'int8')]]),
    });
    fx = await createApiFixture(database.db, { rollouts });
    await seedGroup(database.db, 'line-1');
    for (let i = 0; i < 6; i++) {
      const res = await fx.request('POST', '/api/v1/devices', {
        body: { id: `cam-${i}`, deviceClass: i === 5 ? 'raspberry-pi-4' : 'simulated', group: 'line-1' },
      });
      expect(res.status).toBe(201);
    }
  });
  afterAll(async () => {
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates, shows, lists and commands a rollout; refuses an overlapping one', async () => {
    const denied = await fx.request('POST', '/api/v1/rollouts', {
      token: fx.tokens.viewer,
      body: { model: 'digits', version: 2, target: { kind: 'group', group: 'line-1' } },
    });
    expect(denied.status).toBe(403);

    const created = await fx.request('POST', '/api/v1/rollouts', {
      token: fx.tokens.operator,
      body: {
        model: 'digits',
        alias: 'challenger',
        target: { kind: 'group', group: 'line-1' },
        waves: [{ count: 1 }, { percent: 100, minSoakSeconds: 0 }],
        onFailure: 'pause',
        seed: 4,
      },
    });
    expect(created.status).toBe(201);
    const rollout = created.json;
    expect(rollout).toMatchObject({
      id: expect.stringMatching(/^ro-/),
      kind: 'rollout',
      model: 'digits',
      version: 2,
      status: 'running',
      createdBy: 'test-operator',
      totals: { total: 5, pending: 5 },
      policy: { onFailure: 'pause', successThreshold: 95 },
    });
    expect(rollout.waves.map((w: { counts: { total: number } }) => w.counts.total)).toEqual([1, 4]);
    expect(rollout.waves[1].params.minSoakSeconds).toBe(0);
    expect(rollout.excluded).toEqual([{ deviceId: 'cam-5', reason: 'unknown device class raspberry-pi-4' }]);

    const overlap = await fx.request('POST', '/api/v1/rollouts', {
      body: { model: 'digits', version: 1, target: { kind: 'devices', deviceIds: ['cam-1', 'cam-3'] } },
    });
    expect(overlap.status).toBe(409);
    expect(overlap.json.error.details.conflicts).toEqual([
      { deviceId: 'cam-1', rolloutId: rollout.id },
      { deviceId: 'cam-3', rolloutId: rollout.id },
    ]);

    const shown = await fx.request('GET', `/api/v1/rollouts/${rollout.id}`, { token: fx.tokens.viewer });
    expect(shown.json).toEqual(rollout);
    const list = await fx.request('GET', '/api/v1/rollouts?status=running', { token: fx.tokens.viewer });
    expect(list.json.items.map((r: { id: string }) => r.id)).toContain(rollout.id);
    const deviceList = await fx.request('GET', `/api/v1/rollouts/${rollout.id}/devices`, {
      token: fx.tokens.viewer,
    });
    expect(deviceList.json.items).toHaveLength(6);
    expect(deviceList.json.items.find((d: { deviceId: string }) => d.deviceId === 'cam-0')).toMatchObject({
      state: 'pending',
      version: 2,
      variant: 'int8',
      fromVersion: null,
    });

    const paused = await fx.request('POST', `/api/v1/rollouts/${rollout.id}/pause`, {
      token: fx.tokens.operator,
      body: { reason: 'waiting for the night shift' },
    });
    expect(paused.json).toMatchObject({ status: 'paused', reason: 'waiting for the night shift' });
    const again = await fx.request('POST', `/api/v1/rollouts/${rollout.id}/pause`, { body: {} });
    expect(again.status).toBe(409);
    expect(again.json.error.message).toMatch(/only a running rollout can be paused/);
    expect(
      (await fx.request('POST', `/api/v1/rollouts/${rollout.id}/resume`, { body: {} })).json.status,
    ).toBe('running');
    const aborted = await fx.request('POST', `/api/v1/rollouts/${rollout.id}/abort`, { body: {} });
    expect(aborted.json).toMatchObject({ status: 'aborted', reason: 'aborted by operator' });

    const events = await fx.request('GET', `/api/v1/rollouts/${rollout.id}/events`, {
      token: fx.tokens.viewer,
    });
    expect(events.json.items.map((e: { kind: string }) => e.kind)).toEqual([
      'rollout.created',
      'device.excluded',
      'rollout.paused',
      'rollout.resumed',
      'rollout.aborted',
    ]);
    expect(events.json.items[2]).toMatchObject({
      actor: 'test-operator',
      reason: 'waiting for the night shift',
    });
    const newer = await fx.request(
      'GET',
      `/api/v1/rollouts/${rollout.id}/events?after=${events.json.items[3].id}`,
      {
        token: fx.tokens.viewer,
      },
    );
    expect(newer.json.items.map((e: { kind: string }) => e.kind)).toEqual(['rollout.aborted']);

    // Its devices are free again.
    const next = await fx.request('POST', '/api/v1/rollouts', {
      body: { model: 'digits', version: 1, target: { kind: 'devices', deviceIds: ['cam-1', 'cam-3'] } },
    });
    expect(next.status).toBe(201);
    await fx.request('POST', `/api/v1/rollouts/${next.json.id}/abort`, { body: {} });
  });

  it('rolls back a rollout that has sent desired states into a one-wave rollback', async () => {
    const created = await fx.request('POST', '/api/v1/rollouts', {
      body: { model: 'digits', version: 2, target: { kind: 'devices', deviceIds: ['cam-0', 'cam-2'] } },
    });
    const { id } = created.json;
    // As the scheduler would have: cam-0 was sent v2 while it ran v1.
    const previous = { name: 'digits', version: '1', variant: 'int8', sha256: '' };
    const v1 = await database.db.query.modelVariants.findFirst({
      where: (t, { and, eq: is }) => and(is(t.version, 1), is(t.variant, 'int8')),
    });
    previous.sha256 = v1?.sha256 as string;
    await database.db
      .update(rolloutDevices)
      .set({ state: 'active', fromModel: previous, sentAt: new Date() })
      .where(eq(rolloutDevices.deviceId, 'cam-0'));
    const rolled = await fx.request('POST', `/api/v1/rollouts/${id}/rollback`, {
      body: { reason: 'accuracy dropped' },
    });
    expect(rolled.status).toBe(200);
    expect(rolled.json).toMatchObject({ status: 'rolled_back', reason: 'accuracy dropped' });
    const rollback = await fx.request('GET', `/api/v1/rollouts/${rolled.json.rolledBackBy}`);
    expect(rollback.json).toMatchObject({
      kind: 'rollback',
      rollbackOf: id,
      version: 1,
      totals: { total: 1 },
    });
    const items = (await fx.request('GET', `/api/v1/rollouts/${rollback.json.id}/devices`)).json.items;
    expect(items).toEqual([
      expect.objectContaining({ deviceId: 'cam-0', version: 1, sha256: previous.sha256 }),
    ]);
    const twice = await fx.request('POST', `/api/v1/rollouts/${rollback.json.id}/rollback`, { body: {} });
    expect(twice.status).toBe(409);
    await fx.request('POST', `/api/v1/rollouts/${rollback.json.id}/abort`, { body: {} });
    // Unused device rows stay untouched by all of this.
    const [device] = await database.db.select().from(devices).where(eq(devices.id, 'cam-4'));
    expect(device?.desiredGeneration).toBe(0);
  });

  it('rejects bad input with field paths and unknown rollouts with 404', async () => {
    const bad = await fx.request('POST', '/api/v1/rollouts', {
      body: {
        model: 'digits',
        version: 2,
        alias: 'x',
        target: { kind: 'planet' },
        waves: [{ percent: 150 }],
      },
    });
    expect(bad.status).toBe(400);
    const paths = bad.json.error.details.map((d: { path: string }) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['target.kind', 'waves.0.percent']));
    expect((await fx.request('GET', '/api/v1/rollouts/ro-nope')).status).toBe(404);
    const missingVersion = await fx.request('POST', '/api/v1/rollouts', {
      body: { model: 'digits', version: 9, target: { kind: 'group', group: 'line-1' } },
    });
    expect(missingVersion.status).toBe(404);
    const doc = await fx.request('GET', '/openapi.json', { token: null });
    expect(Object.keys(doc.json.paths)).toEqual(
      expect.arrayContaining(['/api/v1/rollouts', '/api/v1/rollouts/{id}', '/api/v1/rollouts/{id}/rollback']),
    );
  });
});
