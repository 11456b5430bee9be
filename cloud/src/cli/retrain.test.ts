// `edgeloop retrain …` through the real dispatcher against the real API over HTTP. The orchestrator
// is not ticked: the test plays the run's progress in the database, as the lock holder would.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiFixture } from '../api/testing.ts';
import { type HttpServerHandle, startHttpServer } from '../cloud/http-server.ts';
import type { Database } from '../db/index.ts';
import { retrainRuns } from '../db/schema.ts';
import { type TestDatabase, testDatabases } from '../db/testing.ts';
import { silentLogger } from '../log/index.ts';
import { JobRunner, ModelJobs, ModelPipeline } from '../pipeline/index.ts';
import { FsArtifactStore, ModelRegistry, SigningKeys } from '../registry/index.ts';
import { CLASSES, registration } from '../registry/test-fixtures.ts';
import { RetrainOrchestrator } from '../retraining/index.ts';
import { fieldDigits, insertSamples } from '../retraining/testing.ts';
import { RolloutService } from '../rollouts/index.ts';
import { applySettings } from './retrain.ts';
import { runCli } from './testing.ts';

const pglite = testDatabases()[0] as TestDatabase;

describe('edgeloop retrain', () => {
  let database: Database;
  let dir: string;
  let http: HttpServerHandle;
  let jobs: JobRunner;
  let env: Record<string, string | undefined>;

  const run = (argv: string[]) => runCli(argv, { env, isTTY: false, stop: new AbortController().signal });

  beforeAll(async () => {
    database = await pglite.open();
    dir = await mkdtemp(join(tmpdir(), 'edgeloop-retrain-cli-'));
    const store = new FsArtifactStore(join(dir, 'artifacts'));
    const registry = new ModelRegistry({ db: database.db, store, signer: SigningKeys.generate() });
    await registry.createModel({ name: 'digits', classes: CLASSES });
    await registry.registerVersion(registration('digits', 1, { aliases: ['champion'] }));
    jobs = new JobRunner();
    const orchestrator = new RetrainOrchestrator({
      database,
      registry,
      artifacts: store,
      jobs: new ModelJobs(new ModelPipeline({ registry, store }), jobs),
      rollouts: new RolloutService({ db: database.db, registry, profiles: async () => new Map() }),
      autoTick: false,
    });
    const fx = await createApiFixture(database.db, { retraining: orchestrator });
    http = await startHttpServer(fx.app.fetch, { host: '127.0.0.1', port: 0, logger: silentLogger });
    env = { EDGELOOP_CLOUD: http.url, EDGELOOP_TOKEN: fx.tokens.operator };
  });
  afterAll(async () => {
    await http?.close(1000);
    await jobs?.close();
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('sets --set key=value paths, parsing JSON values', () => {
    expect(
      applySettings({ gates: { maxBaseAccuracyDrop: 0.01 }, enabled: true }, [
        'gates.maxBaseAccuracyDrop=0.02',
        'enabled=false',
        'training.hyperparameters.epochs=3',
        'triggerState=warn',
      ]),
    ).toEqual({
      gates: { maxBaseAccuracyDrop: 0.02 },
      enabled: false,
      training: { hyperparameters: { epochs: 3 } },
      triggerState: 'warn',
    });
    expect(() => applySettings({}, ['novalue'])).toThrow(/key=value/);
  });

  it('shows and changes the policy, is refused with the reason, then follows a run to its verdict', async () => {
    const shown = await run(['retrain', 'policy', 'digits']);
    expect(shown.code).toBe(0);
    expect(shown.out).toMatch(/defaults: no policy set yet/);
    expect(shown.out).toMatch(/minLabelledSamples:\s+200/);
    const bad = await run(['retrain', 'policy', 'digits', '--set', 'minLabelledSamples=-5']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/minLabelledSamples/);
    const set = await run([
      'retrain',
      'policy',
      'digits',
      '--set',
      'minLabelledSamples=20',
      '--set',
      'gates.maxBaseAccuracyDrop=0.02',
    ]);
    expect(set.out).toMatch(/minLabelledSamples:\s+20\n/);
    expect(set.out).toMatch(/gates\.maxBaseAccuracyDrop:\s+0\.02\n/);

    const refused = await run(['retrain', 'run', 'digits']);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/0 labelled samples .* needs 20 \[CONFLICT\]/);

    await insertSamples(database.db, fieldDigits({ offset: 0, count: 25, corrupt: false }), {
      model: 'digits',
      version: 1,
    });
    const watching = run(['retrain', 'run', 'digits', '--watch', '--interval', '0.02']);
    let id: string | undefined;
    for (let i = 0; i < 200 && id === undefined; i++) {
      [id] = (await database.db.select({ id: retrainRuns.id }).from(retrainRuns)).map((r) => r.id);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(id).toBeDefined();
    const step = async (patch: Partial<typeof retrainRuns.$inferInsert>) => {
      await database.db
        .update(retrainRuns)
        .set(patch)
        .where(eq(retrainRuns.id, id as string));
      // Generous: the watcher polls every 20 ms, but the machine may be busy.
      await new Promise((resolve) => setTimeout(resolve, 500));
    };
    await step({
      status: 'training',
      progress: { stage: 'training', fraction: 0.4, message: 'training: epoch 1/3' },
    });
    await step({
      status: 'rejected',
      championVersion: 1,
      challengerVersion: 2,
      reason: 'refused by the gates: maxBaseAccuracyDrop — fp32 loses 9.0 pts',
      progress: { stage: 'done', fraction: 1, message: 'rejected by the gates; nothing deployed' },
      evaluation: {
        variants: { fp32: { champion: { base: 0.8, edge: 0.5 }, challenger: { base: 0.71, edge: 0.55 } } },
      },
      finishedAt: new Date(),
    });
    const watched = await watching;
    expect(watched.code).toBe(1); // rejected: nothing was deployed
    expect(watched.out).toMatch(new RegExp(`${id}: queued/queued 0%`));
    expect(watched.out).toMatch(/training\/training 40% \(training: epoch 1\/3\)/);
    expect(watched.out).toMatch(/status:\s+rejected/);
    expect(watched.out).toMatch(/reason:\s+refused by the gates: maxBaseAccuracyDrop/);
    expect(watched.out).toMatch(/fp32\s+80\.0%\s+71\.0%\s+50\.0%\s+55\.0%/);

    const list = await run(['retrain', 'status', '--model', 'digits']);
    expect(list.out).toMatch(new RegExp(`${id}\\s+digits\\s+rejected\\s+manual\\s+v1\\s+v2\\s+done 100%`));
    const one = await run(['retrain', 'status', id as string, '--json']);
    expect(JSON.parse(one.out)).toMatchObject({ id, status: 'rejected', challengerVersion: 2 });
  });
});
