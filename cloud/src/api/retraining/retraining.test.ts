// The retraining routes on a real database with the real orchestrator (never ticked: no training
// here — the loop itself is tested in retraining/orchestrator.test.ts).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../db/index.ts';
import { testDatabases } from '../../db/testing.ts';
import { JobRunner, ModelJobs, ModelPipeline } from '../../pipeline/index.ts';
import { FsArtifactStore, ModelRegistry, SigningKeys } from '../../registry/index.ts';
import { CLASSES, registration } from '../../registry/test-fixtures.ts';
import { RetrainOrchestrator } from '../../retraining/index.ts';
import { fieldDigits, insertSamples } from '../../retraining/testing.ts';
import { RolloutService } from '../../rollouts/index.ts';
import { createApiFixture } from '../testing.ts';

describe.each(testDatabases())('retraining API on $name', ({ open }) => {
  let database: Database;
  let dir: string;
  let jobs: JobRunner;
  let orchestrator: RetrainOrchestrator;
  let fx: Awaited<ReturnType<typeof createApiFixture>>;

  beforeAll(async () => {
    database = await open();
    dir = await mkdtemp(join(tmpdir(), 'edgeloop-retrain-api-'));
    const store = new FsArtifactStore(join(dir, 'artifacts'));
    const registry = new ModelRegistry({ db: database.db, store, signer: SigningKeys.generate() });
    await registry.createModel({ name: 'digits', classes: CLASSES });
    await registry.registerVersion(registration('digits', 1, { aliases: ['champion'] }));
    jobs = new JobRunner();
    const rollouts = new RolloutService({ db: database.db, registry, profiles: async () => new Map() });
    orchestrator = new RetrainOrchestrator({
      database,
      registry,
      artifacts: store,
      jobs: new ModelJobs(new ModelPipeline({ registry, store }), jobs),
      rollouts,
      autoTick: false,
    });
    fx = await createApiFixture(database.db, { retraining: orchestrator });
  });
  afterAll(async () => {
    await jobs?.close();
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('shows the default policy, refuses bad ones with field paths, stores a good one', async () => {
    const shown = await fx.request('GET', '/api/v1/models/digits/retrain-policy', {
      token: fx.tokens.viewer,
    });
    expect(shown.status).toBe(200);
    expect(shown.json).toMatchObject({
      model: 'digits',
      stored: false,
      policy: {
        enabled: true,
        triggerState: 'alert',
        minLabelledSamples: 200,
        cooldownSeconds: 3600,
        gates: { maxBaseAccuracyDrop: 0.01, minEdgeAccuracyGain: 0.01 },
        rollout: { waves: [{ percent: 5 }, { percent: 25 }, { percent: 100 }], minSoakSeconds: 300 },
        target: null,
      },
    });
    const denied = await fx.request('PUT', '/api/v1/models/digits/retrain-policy', {
      token: fx.tokens.viewer,
      body: {},
    });
    expect(denied.status).toBe(403);
    const before = await fx.rejections('VALIDATION_FAILED');
    const bad = await fx.request('PUT', '/api/v1/models/digits/retrain-policy', {
      token: fx.tokens.operator,
      body: {
        minLabelledSamples: -1,
        triggerState: 'panic',
        gates: { minEdgeAccuracyGain: 0 },
        colour: 'red',
      },
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error.details.map((d: { path: string }) => d.path)).toEqual(
      expect.arrayContaining(['minLabelledSamples', 'triggerState', 'gates.minEdgeAccuracyGain']),
    );
    expect(await fx.rejections('VALIDATION_FAILED')).toBe(before + 1);
    const stored = await fx.request('PUT', '/api/v1/models/digits/retrain-policy', {
      token: fx.tokens.operator,
      body: { minLabelledSamples: 20, triggerState: 'warn' },
    });
    expect(stored.json).toMatchObject({
      stored: true,
      policy: { minLabelledSamples: 20, triggerState: 'warn', cooldownSeconds: 3600 },
    });
    expect((await fx.request('GET', '/api/v1/models/digits/retrain-policy')).json.stored).toBe(true);
    expect((await fx.request('GET', '/api/v1/models/nope/retrain-policy')).status).toBe(404);
  });

  it('starts a run on request, refusing with the reason when the policy says no', async () => {
    const refused = await fx.request('POST', '/api/v1/retrain/runs', {
      token: fx.tokens.operator,
      body: { model: 'digits' },
    });
    expect(refused.status).toBe(409);
    expect(refused.json.error).toMatchObject({
      code: 'CONFLICT',
      message: expect.stringMatching(/digits has 0 labelled samples .* needs 20/),
      details: { reason: 'TOO_FEW_SAMPLES', labelled: 0, required: 20 },
    });
    expect(
      (
        await fx.request('POST', '/api/v1/retrain/runs', {
          token: fx.tokens.viewer,
          body: { model: 'digits' },
        })
      ).status,
    ).toBe(403);
    expect((await fx.request('POST', '/api/v1/retrain/runs', { body: { model: 'nope' } })).status).toBe(404);
    expect((await fx.request('POST', '/api/v1/retrain/runs', { body: { model: 'Bad Name!' } })).status).toBe(
      400,
    );

    await insertSamples(database.db, fieldDigits({ offset: 0, count: 25, corrupt: false }), {
      model: 'digits',
      version: 1,
    });
    const started = await fx.request('POST', '/api/v1/retrain/runs', {
      token: fx.tokens.operator,
      body: { model: 'digits' },
    });
    expect(started.status).toBe(201);
    expect(started.json).toMatchObject({
      id: expect.stringMatching(/^rt-[0-9a-f]{12}$/),
      model: 'digits',
      status: 'queued',
      trigger: 'manual',
      createdBy: 'test-operator',
      progress: { stage: 'queued', fraction: 0 },
    });
    const again = await fx.request('POST', '/api/v1/retrain/runs', { body: { model: 'digits' } });
    expect(again.json.error.details).toMatchObject({ reason: 'RUN_IN_FLIGHT', runId: started.json.id });

    const list = await fx.request('GET', '/api/v1/retrain/runs?model=digits&limit=5', {
      token: fx.tokens.viewer,
    });
    expect(list.json.items.map((r: { id: string }) => r.id)).toEqual([started.json.id]);
    expect((await fx.request('GET', '/api/v1/retrain/runs?status=promoted')).json.items).toEqual([]);
    expect((await fx.request('GET', '/api/v1/retrain/runs?status=nonsense')).status).toBe(400);
    const one = await fx.request('GET', `/api/v1/retrain/runs/${started.json.id}`, {
      token: fx.tokens.viewer,
    });
    expect(one.json).toEqual(started.json);
    expect((await fx.request('GET', '/api/v1/retrain/runs/rt-nope')).status).toBe(404);
    const doc = await fx.request('GET', '/openapi.json', { token: null });
    expect(Object.keys(doc.json.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/models/{name}/retrain-policy',
        '/api/v1/retrain/runs',
        '/api/v1/retrain/runs/{id}',
      ]),
    );
  });
});
