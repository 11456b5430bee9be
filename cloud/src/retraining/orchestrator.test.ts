// The retraining loop on a real database (PGlite; PostgreSQL too when DATABASE_URL is set) with the
// real pipeline (a few hundred digits, one epoch), registry, rollout service and scheduler; devices
// are played by a fake bridge. A challenger adapted to a darker, blurred camera passes the gates, is
// canaried and promoted; one trained on scrambled labels is refused and never reaches a device.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DriftReport, ModelRef } from '@edgeloop/shared';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../datasets/index.ts';
import type { Database } from '../db/index.ts';
import { devices, events, fleetSamples, retrainRuns, rollouts } from '../db/schema.ts';
import { testDatabases } from '../db/testing.ts';
import { listBaselines, type StoredDriftReport } from '../drift/index.ts';
import { createLogger } from '../log/index.ts';
import { detachedContext, JobRunner, ModelJobs, ModelPipeline } from '../pipeline/index.ts';
import { FAST_LATENCY, TINY_TRAINING, tempDir } from '../pipeline/testing.ts';
import { FsArtifactStore, ModelRegistry, SigningKeys, type VersionRecord } from '../registry/index.ts';
import { RolloutScheduler, RolloutService } from '../rollouts/index.ts';
import { FakeBridge, testProfile } from '../rollouts/testing.ts';
import { mnistSubset } from '../training/fixtures/mnist-digits.ts';
import { RetrainOrchestrator } from './orchestrator.ts';
import type { RetrainPolicyInput } from './policy.ts';
import { RETRAINING_ACTOR } from './run-executor.ts';
import { fieldDigits, insertSamples, scrambleLabels } from './testing.ts';

const digits = mnistSubset({ train: 300, validation: 60, test: 200 });
/** A few seconds of training that still learns something stable from 300 digits (~70% clean). */
const CHAMPION_TRAINING = { ...TINY_TRAINING, epochs: 3, convChannels: [8, 16], hidden: 32 };
const POLICY: RetrainPolicyInput = {
  minLabelledSamples: 100,
  cooldownSeconds: 0,
  rollout: { waves: [{ percent: 100 }], minSoakSeconds: 0 },
};

function driftReport(model: string, version: number, state: DriftReport['state']): StoredDriftReport {
  return {
    model,
    version,
    scopeKind: 'device_class',
    scope: 'sim-int8',
    windowStart: new Date(Date.now() - 600_000),
    windowEnd: new Date(),
    report: {
      v: 1,
      profile: 'p',
      state,
      changed: true,
      evaluation: state,
      singleWindowOnly: false,
      samples: 500,
      minSamples: 100,
      windows: 5,
      tests: 4,
      drifted: ['brightness', 'sharpness'],
      features: [],
      hysteresis: { alertsInLast: 2, outOf: 3, raiseAfter: 2, calmStreak: 0, clearAfter: 3 },
    },
  };
}

describe.each(testDatabases())('RetrainOrchestrator on $name', ({ open }) => {
  let database: Database;
  let dir: string;
  let registry: ModelRegistry;
  let jobs: JobRunner;
  let orchestrator: RetrainOrchestrator;
  let bridge: FakeBridge;
  let scheduler: RolloutScheduler;
  let champion: VersionRecord;
  const logs: Record<string, unknown>[] = [];

  const refOf = (version: VersionRecord): ModelRef => {
    const v = version.variants.find((x) => x.variant === 'int8')!;
    return { name: 'digits', version: String(version.version), variant: 'int8', sha256: v.sha256 };
  };

  async function finishRun(id: string) {
    await orchestrator.tick();
    await orchestrator.idle();
    return orchestrator.getRun(id);
  }

  beforeAll(async () => {
    database = await open();
    dir = await tempDir('edgeloop-retrain-');
    const store = new FsArtifactStore(join(dir, 'artifacts'));
    registry = new ModelRegistry({ db: database.db, store, signer: SigningKeys.generate() });
    const pipeline = new ModelPipeline({
      registry,
      store,
      latency: FAST_LATENCY,
      quantize: { latency: FAST_LATENCY },
    });
    jobs = new JobRunner({ db: database.db });
    const outcome = await pipeline.train(
      { model: 'digits', dataset: digits, hyperparameters: CHAMPION_TRAINING, aliases: ['champion'] },
      detachedContext(),
    );
    champion = await registry.getVersion('digits', outcome.version);
    await registry.createModel({ name: 'other', classes: digits.classes });

    // Four cameras run the champion's int8 variant.
    await database.db.insert(devices).values(
      [0, 1, 2, 3].map((i) => ({
        id: `cam-${i}`,
        deviceClass: 'sim-int8',
        connection: 'online' as const,
        reported: {
          v: 1,
          generation: 0,
          rolloutId: null,
          active: refOf(champion),
          previous: null,
          phase: { state: 'active', sha256: refOf(champion).sha256 },
          at: 1,
        },
      })),
    );
    bridge = new FakeBridge(database.db);
    scheduler = new RolloutScheduler({ database, bridge, registry, autoTick: false });
    await scheduler.start();
    const rolloutService = new RolloutService({
      db: database.db,
      registry,
      profiles: async () => new Map([['sim-int8', testProfile('sim-int8', 'int8')]]),
    });
    orchestrator = new RetrainOrchestrator({
      database,
      registry,
      artifacts: store,
      jobs: new ModelJobs(pipeline, jobs),
      rollouts: rolloutService,
      // The champion's lineage names `{ kind: 'mnist' }`; tests train on a subset of it.
      loadDataset: async (ref) => {
        if (ref.kind !== 'mnist') throw new Error(`unexpected dataset ${JSON.stringify(ref)}`);
        return digits as Dataset;
      },
      autoTick: false,
      logger: createLogger({
        level: 'info',
        format: 'json',
        sink: { write: (line: string) => logs.push(JSON.parse(line)) },
      }),
    });
    await orchestrator.start();
  }, 120_000);
  afterAll(async () => {
    await orchestrator?.stop();
    await scheduler?.stop();
    await jobs?.close();
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses to start without enough labelled samples, when disabled, and in cooldown — recording each once', async () => {
    await orchestrator.putPolicy('other', { minLabelledSamples: 50 }, 'test');
    await expect(
      orchestrator.request({ model: 'other', trigger: 'manual', detail: {}, actor: 'op' }),
    ).rejects.toMatchObject({
      code: 'CONFLICT',
      details: { reason: 'TOO_FEW_SAMPLES', labelled: 0, required: 50 },
    });
    // Drift at alert, twice: refused for the same reason, recorded once.
    orchestrator.onDriftReport(driftReport('other', 1, 'alert'));
    orchestrator.onDriftReport(driftReport('other', 1, 'alert'));
    await orchestrator.settled();
    // Old samples (outside the recent window) do not count.
    await insertSamples(database.db, fieldDigits({ offset: 400, count: 60, corrupt: false }), {
      model: 'other',
      version: 1,
      capturedAt: new Date(Date.now() - 30 * 86_400_000),
    });
    await expect(
      orchestrator.request({ model: 'other', trigger: 'manual', detail: {}, actor: 'op' }),
    ).rejects.toMatchObject({
      details: { reason: 'TOO_FEW_SAMPLES', labelled: 0 },
    });

    await orchestrator.putPolicy('other', { minLabelledSamples: 50, enabled: false }, 'test');
    orchestrator.onDriftReport(driftReport('other', 1, 'alert'));
    await orchestrator.settled();
    await expect(
      orchestrator.request({ model: 'other', trigger: 'manual', detail: {}, actor: 'op' }),
    ).rejects.toMatchObject({
      details: { reason: 'RETRAIN_DISABLED' },
    });

    // A warn-level report does not reach the default trigger (alert): nothing recorded at all.
    await orchestrator.putPolicy('other', { minLabelledSamples: 10, cooldownSeconds: 3600 }, 'test');
    orchestrator.onDriftReport(driftReport('other', 1, 'warn'));
    await orchestrator.settled();
    await database.db.insert(retrainRuns).values({
      id: 'rt-earlier',
      modelName: 'other',
      status: 'rejected',
      trigger: 'manual',
      finishedAt: new Date(Date.now() - 600_000),
    });
    await expect(
      orchestrator.request({ model: 'other', trigger: 'manual', detail: {}, actor: 'op' }),
    ).rejects.toMatchObject({
      details: { reason: 'COOLDOWN', runId: 'rt-earlier' },
    });
    orchestrator.onDriftReport(driftReport('other', 1, 'alert'));
    await orchestrator.settled();
    await expect(
      orchestrator.request({ model: 'nope', trigger: 'manual', detail: {}, actor: 'op' }),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });

    const refused = await database.db
      .select({ data: events.data })
      .from(events)
      .where(and(eq(events.kind, 'retrain.refused'), eq(events.subject, 'model:other')));
    expect(refused.map((e) => (e.data as { reason: string }).reason)).toEqual([
      'TOO_FEW_SAMPLES',
      'RETRAIN_DISABLED',
      'COOLDOWN',
    ]);
    expect(logs.filter((l) => String(l.msg).startsWith('drift did not start'))).toHaveLength(3);
    const runs = await orchestrator.listRuns({ model: 'other' });
    expect(runs.map((r) => r.id)).toEqual(['rt-earlier']);
  });

  it('adapts to a darker, blurred camera: gates pass, challenger is canaried, then promoted', async () => {
    await orchestrator.putPolicy('digits', POLICY, 'test');
    const field = fieldDigits({ offset: 1000, count: 240, corrupt: true });
    await insertSamples(database.db, field, { model: 'digits', version: champion.version });
    // One unusable row of each kind: skipped, counted, logged — never in the dataset.
    const bad = fieldDigits({ offset: 2000, count: 4, corrupt: false });
    await insertSamples(database.db, bad, { model: 'digits', version: champion.version, prefix: 'bad' });
    await database.db
      .update(fleetSamples)
      .set({ shape: [1, 3, 28, 28] })
      .where(eq(fleetSamples.sampleId, 'bad-0'));
    await database.db
      .update(fleetSamples)
      .set({ tensor: new Uint8Array(12) })
      .where(eq(fleetSamples.sampleId, 'bad-1'));
    await database.db.update(fleetSamples).set({ label: 42 }).where(eq(fleetSamples.sampleId, 'bad-2'));
    await database.db
      .update(fleetSamples)
      .set({ tensor: new Uint8Array(new Float32Array(784).fill(7).buffer) })
      .where(eq(fleetSamples.sampleId, 'bad-3'));

    orchestrator.onDriftReport(driftReport('digits', champion.version, 'alert'));
    await orchestrator.settled();
    const [queued] = await orchestrator.listRuns({ model: 'digits' });
    expect(queued).toMatchObject({ status: 'queued', trigger: 'drift', triggerDetail: { state: 'alert' } });
    // In flight: a second request is refused.
    await expect(
      orchestrator.request({ model: 'digits', trigger: 'manual', detail: {}, actor: 'op' }),
    ).rejects.toMatchObject({
      details: { reason: 'RUN_IN_FLIGHT', runId: queued!.id },
    });

    const run = await finishRun(queued!.id);
    expect(run.reason).toMatch(/^passed every gate/);
    expect(run).toMatchObject({
      status: 'canary',
      championVersion: champion.version,
      challengerVersion: champion.version + 1,
      rolloutId: expect.stringMatching(/^ro-/),
      progress: { stage: 'canary' },
    });
    expect(run.lineage).toMatchObject({
      baseDataset: { name: 'mnist-subset', version: digits.version, source: { kind: 'mnist' } },
      samples: {
        usable: 240,
        holdout: 72,
        train: 168,
        skipped: { shape: 1, size: 1, label: 1, values: 1 },
        devices: ['cam-0', 'cam-1', 'cam-2', 'cam-3'],
        windows: { 'cam-0': '0-11' },
      },
    });
    expect(logs.some((l) => l.msg === 'unusable fleet samples skipped')).toBe(true);
    const variants = run.evaluation?.variants as Record<
      string,
      { champion: { edge: number }; challenger: { edge: number } }
    >;
    expect(Object.keys(variants).sort()).toEqual(['fp32', 'int8']);
    for (const v of Object.values(variants)) expect(v.challenger.edge).toBeGreaterThan(v.champion.edge);
    const challenger = await registry.getVersion('digits', run.challengerVersion!);
    expect(challenger.aliases).toEqual(['challenger']);
    expect(challenger.lineage).toMatchObject({
      parentVersion: champion.version,
      dataset: { source: { kind: 'merged' } },
    });

    // The canary rollout targets the cameras that run the model, with the challenger.
    const [rollout] = await database.db.select().from(rollouts).where(eq(rollouts.id, run.rolloutId!));
    expect(rollout).toMatchObject({
      version: challenger.version,
      createdBy: 'retraining',
      status: 'running',
    });
    await orchestrator.tick();
    expect((await orchestrator.getRun(run.id)).status).toBe('canary');
    expect((await registry.resolveAlias('digits', 'champion')).version).toBe(champion.version);

    // The devices take it; the rollout completes; the challenger becomes the champion.
    await scheduler.tick();
    for (const id of ['cam-0', 'cam-1', 'cam-2', 'cam-3']) {
      const desired = bridge.lastDesired(id);
      expect(desired?.model?.manifest.version).toBe(String(challenger.version));
      await bridge.answer(id, { state: 'active', sha256: desired!.model!.manifest.sha256 });
    }
    await scheduler.tick();
    await scheduler.tick();
    const [done] = await database.db.select().from(rollouts).where(eq(rollouts.id, run.rolloutId!));
    expect(done?.status).toBe('completed');
    await orchestrator.tick();
    const promoted = await orchestrator.getRun(run.id);
    expect(promoted).toMatchObject({ status: 'promoted', progress: { fraction: 1 } });
    expect(promoted.finishedAt).not.toBeNull();
    expect((await registry.resolveAlias('digits', 'champion')).version).toBe(challenger.version);
    // `challenger` no longer names anything; the slice that drifted collects a new baseline.
    await expect(registry.resolveAlias('digits', 'challenger')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await listBaselines(database.db, { model: 'digits' })).toMatchObject([
      {
        version: challenger.version,
        scopeKind: 'device_class',
        scope: 'sim-int8',
        status: 'collecting',
        requestedBy: RETRAINING_ACTOR,
      },
    ]);
  }, 120_000);

  it('refuses a challenger trained on scrambled labels: rejected naming the gate, no rollout', async () => {
    const championNow = await registry.resolveAlias('digits', 'champion');
    const rolloutsBefore = await database.db.select().from(rollouts);
    await database.db.delete(fleetSamples);
    const scrambled = scrambleLabels(fieldDigits({ offset: 3000, count: 300, corrupt: false }), 5);
    await insertSamples(database.db, scrambled, { model: 'digits', version: championNow.version });

    const queued = await orchestrator.request({
      model: 'digits',
      trigger: 'manual',
      detail: {},
      actor: 'op',
    });
    const run = await finishRun(queued.id);
    expect(run.status).toBe('rejected');
    expect(run.reason).toMatch(/^refused by the gates: (maxBaseAccuracyDrop|minEdgeAccuracyGain) — /);
    expect(run.rolloutId).toBeNull();
    expect(run.evaluation).toMatchObject({ passed: false });
    // Original data is found through the lineage of a retrained champion (its data was a merge).
    expect(run.lineage).toMatchObject({
      baseDataset: { version: digits.version, fromModelVersion: champion.version },
    });

    // Registered for the record, but it carries no alias and no rollout exists for it.
    const refused = await registry.getVersion('digits', run.challengerVersion!);
    expect(refused.aliases).toEqual([]);
    expect(await database.db.select().from(rollouts)).toHaveLength(rolloutsBefore.length);
    await expect(registry.resolveAlias('digits', 'challenger')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await registry.resolveAlias('digits', 'champion')).version).toBe(championNow.version);
    for (const id of ['cam-0', 'cam-1', 'cam-2', 'cam-3'])
      expect(bridge.lastDesired(id)?.model?.manifest.version).not.toBe(String(refused.version));
  }, 120_000);

  it('closes runs a dead process left mid-training; a canary whose rollout rolled back fails with its reason', async () => {
    await database.db.insert(retrainRuns).values([
      { id: 'rt-stuck', modelName: 'other', status: 'training', trigger: 'manual' },
      {
        id: 'rt-rolled',
        modelName: 'other',
        status: 'canary',
        trigger: 'manual',
        challengerVersion: 1,
        rolloutId: 'ro-x',
      },
    ]);
    const other = new RetrainOrchestrator({
      database,
      registry,
      artifacts: new FsArtifactStore(join(dir, 'artifacts')),
      jobs: new ModelJobs(
        new ModelPipeline({ registry, store: new FsArtifactStore(join(dir, 'artifacts')) }),
        jobs,
      ),
      rollouts: {
        create: async () => {
          throw new Error('not expected');
        },
        get: async (id: string) =>
          ({ id, status: 'rolled_back', reason: 'error rate rose 9 points' }) as never,
      },
      autoTick: false,
    });
    // The first orchestrator holds the lock: the second does nothing.
    await other.start();
    await other.tick();
    expect((await orchestrator.getRun('rt-stuck')).status).toBe('training');
    await orchestrator.stop();
    await other.tick();
    expect(other.leader).toBe(true);
    expect(await other.getRun('rt-stuck')).toMatchObject({
      status: 'failed',
      reason: expect.stringMatching(/^interrupted/),
    });
    expect(await other.getRun('rt-rolled')).toMatchObject({
      status: 'failed',
      reason: 'canary rollout ro-x rolled back: error rate rose 9 points',
    });
    await other.stop();
  });
});
