// One retraining run, from queued to rejected or canary: resolve the champion, assemble original +
// recent edge data, train the challenger through the pipeline's job queue (quantized variant
// included), evaluate both on the original test set and the edge holdout, apply the gates. A passing
// challenger gets the `challenger` alias and a canary rollout; a failing one is recorded with the
// reason and nothing is deployed. Every step writes the run's progress, so API, CLI and dashboard
// can follow it.
import { EdgeloopError } from '@edgeloop/shared';
import { sql } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { devices } from '../db/schema.ts';
import type { Logger } from '../log/index.ts';
import type { Job, ModelJobs, RegisteredOutcome } from '../pipeline/index.ts';
import type { ArtifactStore, ModelRegistry, VersionRecord } from '../registry/index.ts';
import type { RolloutService, RolloutTarget } from '../rollouts/index.ts';
import { assembleRetrainData, type DatasetLoader, originalTrainingData } from './dataset-assembly.ts';
import { loadLabelledSamples } from './fleet-samples.ts';
import { evaluationSetOf, judgeChallenger, measureAccuracies } from './gates.ts';
import type { RetrainPolicy } from './policy.ts';
import type { RetrainRun, RetrainStore, RunProgress } from './store.ts';

export const RETRAINING_ACTOR = 'retraining';

/** Where each stage sits in the run's overall progress; the canary takes the rest. */
const SPAN = { dataset: [0, 0.05], training: [0.05, 0.8], evaluating: [0.8, 0.9], canary: [0.9, 1] } as const;
/** Training progress is written at most this often (the job reports far more often). */
const PROGRESS_WRITE_MS = 500;

export interface RunExecutorDeps {
  store: RetrainStore;
  registry: ModelRegistry;
  artifacts: ArtifactStore;
  jobs: ModelJobs;
  rollouts: Pick<RolloutService, 'create' | 'get'>;
  loadDataset: DatasetLoader;
  logger: Logger;
}

/** A failure that ends the run as `failed` with this message (no stack trace needed). */
class RunFailure extends Error {}

export class RunExecutor {
  readonly #d: RunExecutorDeps;
  #job: Job | undefined;
  #cancelled = false;

  constructor(deps: RunExecutorDeps) {
    this.#d = deps;
  }

  /** Stops the run: its training job is cancelled and the run ends as `cancelled`. */
  cancel(): void {
    this.#cancelled = true;
    if (this.#job) this.#d.jobs.runner.cancel(this.#job.id);
  }

  /** Runs `run` to rejected, canary, failed or cancelled. Never throws: every failure is recorded. */
  async execute(run: RetrainRun): Promise<void> {
    const { store, logger } = this.#d;
    const log = logger.child({ runId: run.id, model: run.model });
    try {
      await this.#execute(run, log);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const status = this.#cancelled ? 'cancelled' : 'failed';
      const reason = this.#cancelled ? 'cancelled: the cloud stopped during the run' : message;
      if (!(error instanceof RunFailure) && !this.#cancelled)
        log.error({ err: error }, 'retraining run failed');
      else log.warn({ status, reason }, 'retraining run ended');
      await store
        .updateRun(run.id, { status, reason, progress: { stage: 'done', fraction: 1, message: reason } })
        .catch((err: unknown) => log.error({ err }, 'could not record the end of a retraining run'));
      await store
        .recordEvent('retrain.run.finished', run.model, RETRAINING_ACTOR, { runId: run.id, status, reason })
        .catch(() => undefined);
    }
  }

  async #execute(run: RetrainRun, log: Logger): Promise<void> {
    const { store, registry } = this.#d;
    const progress = (stage: keyof typeof SPAN, fraction: number, message: string, jobId?: string) =>
      progressOf(stage, fraction, message, jobId);
    await store.updateRun(run.id, {
      status: 'training',
      progress: progress('dataset', 0, 'resolving the champion and its training data'),
    });
    const { policy } = await store.getPolicy(store.db, run.model);
    const champion = await registry.resolveAlias(run.model, 'champion').catch((error: unknown) => {
      throw new RunFailure(`no champion to retrain: ${(error as Error).message}`);
    });
    await store.updateRun(run.id, { championVersion: champion.version });

    const original = await originalTrainingData(registry, champion, this.#d.loadDataset);
    const since = new Date(store.now().getTime() - policy.recentWindowSeconds * 1000);
    const loaded = await loadLabelledSamples(store.db, {
      model: run.model,
      since,
      limit: policy.maxSamples,
      shape: original.dataset.shape,
      classes: original.dataset.classes.length,
    });
    const skipped = Object.values(loaded.skipped).reduce((a, b) => a + b, 0);
    if (skipped > 0)
      log.warn({ skipped: loaded.skipped, examples: loaded.examples }, 'unusable fleet samples skipped');
    if (loaded.samples.length < policy.minLabelledSamples) {
      throw new RunFailure(
        `only ${loaded.samples.length} usable labelled samples (${skipped} skipped as unusable); the policy needs ${policy.minLabelledSamples}`,
      );
    }
    const data = assembleRetrainData({
      original,
      loaded,
      holdoutFraction: policy.edgeHoldoutFraction,
      seed: policy.seed,
    });
    await store.updateRun(run.id, {
      lineage: data.lineage,
      progress: progress('dataset', 1, `dataset ${data.dataset.name}@${data.dataset.version} assembled`),
    });
    this.#checkCancelled();

    const outcome = await this.#train(run, champion, policy, data.dataset);
    await store.updateRun(run.id, {
      status: 'evaluating',
      challengerVersion: outcome.version,
      progress: progress('evaluating', 0, `evaluating challenger v${outcome.version}`),
    });
    this.#checkCancelled();

    const challenger = await registry.getVersion(run.model, outcome.version);
    const base = evaluationSetOf(original.dataset.test, original.dataset.shape, original.dataset.classes);
    const edge = evaluationSetOf(data.edgeTest, original.dataset.shape, original.dataset.classes);
    let lastWrite = 0;
    const accuracies = await measureAccuracies({
      store: this.#d.artifacts,
      champion,
      challenger,
      base,
      edge,
      onProgress: (fraction, message) => {
        if (Date.now() - lastWrite < PROGRESS_WRITE_MS) return;
        lastWrite = Date.now();
        void store.updateRun(run.id, { progress: progress('evaluating', fraction, message) }).catch(() => {});
      },
    });
    const sizes = { base: base.count, edge: edge.count };
    const verdict = judgeChallenger(accuracies, policy.gates, sizes);
    const evaluation = {
      gates: policy.gates,
      sets: {
        base: { name: original.dataset.name, version: original.dataset.version, count: sizes.base },
        edge: { count: sizes.edge },
      },
      variants: accuracies,
      checks: verdict.checks,
      passed: verdict.passed,
    };
    if (!verdict.passed) {
      await store.updateRun(run.id, {
        status: 'rejected',
        evaluation,
        reason: verdict.reason,
        progress: { stage: 'done', fraction: 1, message: 'rejected by the gates; nothing deployed' },
      });
      await store.recordEvent('retrain.run.finished', run.model, RETRAINING_ACTOR, {
        runId: run.id,
        status: 'rejected',
        reason: verdict.reason,
      });
      log.info({ challenger: outcome.version, reason: verdict.reason }, 'challenger rejected');
      return;
    }
    await store.updateRun(run.id, { evaluation, reason: verdict.reason });
    await this.#startCanary(run, challenger, policy, log);
  }

  async #train(
    run: RetrainRun,
    champion: VersionRecord,
    policy: RetrainPolicy,
    dataset: Parameters<ModelJobs['train']>[0]['dataset'],
  ): Promise<RegisteredOutcome> {
    const { store, jobs } = this.#d;
    const trainer = policy.training.trainer ?? { kind: 'builtin' as const };
    // Same trainer: train exactly as the champion was, with the policy's overrides on top.
    const inherited = champion.lineage.trainer === trainer.kind ? champion.lineage.trainingParameters : {};
    const job = jobs.train({
      model: run.model,
      dataset,
      trainer,
      hyperparameters: { ...inherited, ...policy.training.hyperparameters },
      parentVersion: champion.version,
      // Registered without an alias: it gets `challenger` only once it passed the gates.
      aliases: [],
      description: `retrained from v${champion.version} on recent edge data (run ${run.id})`,
      actor: RETRAINING_ACTOR,
    });
    this.#job = job;
    if (this.#cancelled) jobs.runner.cancel(job.id);
    let writing = Promise.resolve();
    let lastWrite = 0;
    const write = (state: Job, force: boolean) => {
      const now = Date.now();
      if (!force && now - lastWrite < PROGRESS_WRITE_MS) return;
      lastWrite = now;
      const detail = state.status === 'queued' ? 'waiting for other pipeline jobs' : state.detail;
      const message = `${state.phase}${detail ? `: ${detail}` : ''}`;
      writing = writing
        .then(() =>
          store.updateRun(run.id, { progress: progressOf('training', state.progress, message, job.id) }),
        )
        .catch(() => {});
    };
    write(job, true);
    jobs.runner.subscribe(job.id, (state) => write(state, false));
    const final = await jobs.runner.wait(job.id);
    this.#job = undefined;
    await writing;
    if (final.status === 'cancelled') throw new RunFailure('training was cancelled');
    if (final.status !== 'succeeded')
      throw new RunFailure(`training failed: ${final.error?.message ?? 'no reason given'}`);
    return final.result as RegisteredOutcome;
  }

  async #startCanary(run: RetrainRun, challenger: VersionRecord, policy: RetrainPolicy, log: Logger) {
    const { registry, rollouts, store } = this.#d;
    await registry.setAlias(run.model, 'challenger', challenger.version, RETRAINING_ACTOR);
    const target = policy.target ?? (await devicesRunning(store.db, run.model));
    if (target === null) {
      throw new RunFailure(
        `challenger v${challenger.version} passed the gates, but no device runs ${run.model} to canary it on`,
      );
    }
    let rolloutId: string;
    try {
      const rollout = await rollouts.create(
        { model: run.model, version: challenger.version, target, ...policy.rollout },
        RETRAINING_ACTOR,
      );
      rolloutId = rollout.id;
    } catch (error) {
      if (error instanceof EdgeloopError)
        throw new RunFailure(`the canary rollout could not start: ${error.message}`);
      throw error;
    }
    await store.updateRun(run.id, {
      status: 'canary',
      rolloutId,
      progress: progressOf('canary', 0, `canary rollout ${rolloutId} started`),
    });
    await store.recordEvent('retrain.run.canary', run.model, RETRAINING_ACTOR, {
      runId: run.id,
      challengerVersion: challenger.version,
      rolloutId,
    });
    log.info({ challenger: challenger.version, rolloutId }, 'challenger passed the gates; canary started');
  }

  #checkCancelled(): void {
    if (this.#cancelled) throw new RunFailure('cancelled');
  }
}

export function progressOf(
  stage: keyof typeof SPAN,
  fraction: number,
  message: string,
  jobId?: string,
): RunProgress {
  const [from, to] = SPAN[stage];
  const clamped = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  return {
    stage,
    fraction: Math.round((from + (to - from) * clamped) * 1000) / 1000,
    message,
    ...(jobId === undefined ? {} : { jobId }),
  };
}

/** Every device whose last report says it runs `model` (any version): the default canary target. */
export async function devicesRunning(db: Db, model: string): Promise<RolloutTarget | null> {
  const rows = await db
    .select({ id: devices.id })
    .from(devices)
    .where(sql`${devices.reported} -> 'active' ->> 'name' = ${model}`)
    .orderBy(devices.id)
    .limit(10_000);
  return rows.length === 0 ? null : { kind: 'devices', deviceIds: rows.map((r) => r.id) };
}
