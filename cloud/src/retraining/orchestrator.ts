// The retraining orchestrator closes the loop: drift reports at or above a model's trigger state (or
// an operator's request) admit a queued run; the process holding the retraining advisory lock
// executes queued runs one at a time and follows canaries to promotion or failure. Refusals of
// drift-triggered runs (disabled, in flight, cooldown, too few samples) are recorded once per model
// and reason, not on every drift evaluation. On gaining the lock, runs a dead process left in
// training or evaluating are closed as failed ('interrupted'); canaries are simply watched on.
import { type SessionAdvisoryLock, sessionAdvisoryLock } from '../db/advisory-lock.ts';
import type { Database } from '../db/database.ts';
import type { StoredDriftReport } from '../drift/index.ts';
import { type Logger, silentLogger } from '../log/index.ts';
import { type ModelJobs, resolveDataset } from '../pipeline/index.ts';
import type { ArtifactStore, ModelRegistry } from '../registry/index.ts';
import type { RolloutService } from '../rollouts/index.ts';
import { admitRun, type RefusalCode, RetrainRefusal, type RunRequest } from './admission.ts';
import { CanaryWatcher } from './canary-watcher.ts';
import type { DatasetLoader } from './dataset-assembly.ts';
import { type RetrainPolicy, type RetrainPolicyInput, reachesTrigger } from './policy.ts';
import { RETRAINING_ACTOR, RunExecutor } from './run-executor.ts';
import { type RetrainRun, RetrainStore, type RunStatus } from './store.ts';

export interface RetrainOrchestratorOptions {
  database: Pick<Database, 'db' | 'driver'>;
  registry: ModelRegistry;
  artifacts: ArtifactStore;
  /** The pipeline's job queue: the challenger trains there, one job at a time with the others. */
  jobs: ModelJobs;
  rollouts: Pick<RolloutService, 'create' | 'get'>;
  /** Loads a champion's original training data from its lineage; default the pipeline's loader. */
  loadDataset?: DatasetLoader;
  lock?: SessionAdvisoryLock;
  /** How often queued runs and canaries are looked at (default 5 s). */
  tickIntervalMs?: number;
  /** false: no timers; tests call `tick()` and `idle()`. Default true. */
  autoTick?: boolean;
  /** Inferences a drifted slice's new baseline is collected from after a promotion (default 500). */
  baselineSamples?: number;
  now?: () => Date;
  logger?: Logger;
}

export class RetrainOrchestrator {
  readonly store: RetrainStore;
  readonly #o: RetrainOrchestratorOptions;
  readonly #logger: Logger;
  readonly #lock: SessionAdvisoryLock;
  readonly #canaries: CanaryWatcher;
  /** The last refusal recorded per model, so a persisting condition is recorded once. */
  readonly #refusals = new Map<string, RefusalCode>();
  #leader = false;
  #started = false;
  #interval: NodeJS.Timeout | undefined;
  #soon: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #again = false;
  #current: { runId: string; executor: RunExecutor; done: Promise<void> } | undefined;
  readonly #pending = new Set<Promise<unknown>>();

  constructor(options: RetrainOrchestratorOptions) {
    this.#o = options;
    this.#logger = options.logger ?? silentLogger;
    this.store = new RetrainStore(options.database.db, options.now);
    this.#lock = options.lock ?? sessionAdvisoryLock(options.database, 'retraining');
    this.#canaries = new CanaryWatcher(
      this.store,
      options.registry,
      options.rollouts,
      this.#logger,
      options.baselineSamples,
    );
  }

  get leader(): boolean {
    return this.#leader;
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    if (this.#o.autoTick ?? true) {
      this.#interval = setInterval(() => this.nudge(), this.#o.tickIntervalMs ?? 5_000);
      this.#interval.unref();
      await this.tick();
    }
  }

  /** Stops ticking, cancels a run in progress (it ends `cancelled`), releases the lock. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    clearInterval(this.#interval);
    clearTimeout(this.#soon);
    await this.#ticking?.catch(() => undefined);
    const current = this.#current;
    if (current) {
      current.executor.cancel();
      await current.done;
    }
    await Promise.all([...this.#pending].map((p) => p.catch(() => undefined)));
    if (this.#leader) {
      await this.#lock.release();
      this.#leader = false;
    }
  }

  /** Asks for a tick soon (coalesced). */
  nudge(): void {
    if (!this.#started || !(this.#o.autoTick ?? true) || this.#soon !== undefined) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      this.tick().catch((err: unknown) =>
        this.#logger.error({ event: 'retrain.tick_failed', err: String(err) }, 'retraining tick failed'),
      );
    }, 0);
  }

  /** One pass: follow canaries, start the oldest queued run when none is executing. */
  tick(): Promise<void> {
    if (this.#ticking) {
      this.#again = true;
      return this.#ticking;
    }
    this.#ticking = this.#tick().finally(() => {
      this.#ticking = undefined;
      if (this.#again) {
        this.#again = false;
        this.nudge();
      }
    });
    return this.#ticking;
  }

  /** Resolves once the run this process is executing (if any) has left training and evaluation. */
  async idle(): Promise<void> {
    await this.#ticking;
    await this.#current?.done;
  }

  async #tick(): Promise<void> {
    if (!(await this.#holdLock())) return;
    await this.#canaries.check();
    if (this.#current !== undefined) return;
    const [next] = (await this.store.listRuns({ status: ['queued'], limit: 1_000 })).slice(-1);
    if (next === undefined) return;
    const executor = new RunExecutor({
      store: this.store,
      registry: this.#o.registry,
      artifacts: this.#o.artifacts,
      jobs: this.#o.jobs,
      rollouts: this.#o.rollouts,
      loadDataset: this.#o.loadDataset ?? ((ref) => resolveDataset(ref)),
      logger: this.#logger,
    });
    await this.store.recordEvent('retrain.run.started', next.model, RETRAINING_ACTOR, {
      runId: next.id,
      trigger: next.trigger,
    });
    const done = executor.execute(next).finally(() => {
      this.#current = undefined;
      this.nudge();
    });
    this.#current = { runId: next.id, executor, done };
  }

  async #holdLock(): Promise<boolean> {
    const held = this.#leader ? await this.#lock.held() : await this.#lock.tryAcquire();
    if (held && !this.#leader) {
      this.#leader = true;
      this.#logger.info({}, 'retraining orchestrator: this process orchestrates');
      await this.#recoverInterrupted();
    }
    if (!held && this.#leader) {
      this.#leader = false;
      this.#logger.warn({}, 'retraining orchestrator: lost the lock');
    }
    return held;
  }

  /** Runs left in training or evaluating by a process that no longer holds the lock. */
  async #recoverInterrupted(): Promise<void> {
    const stuck = await this.store.listRuns({ status: ['training', 'evaluating'], limit: 1_000 });
    for (const run of stuck) {
      if (run.id === this.#current?.runId) continue;
      const reason = `interrupted: the process running it stopped while ${run.status}`;
      await this.store.updateRun(run.id, {
        status: 'failed',
        reason,
        progress: { stage: 'done', fraction: 1, message: reason },
      });
      await this.store.recordEvent('retrain.run.finished', run.model, RETRAINING_ACTOR, {
        runId: run.id,
        status: 'failed',
        reason,
      });
      this.#logger.warn({ runId: run.id, model: run.model }, reason);
    }
  }

  /**
   * Starts a run for `model` now (queued; the lock holder executes it). Throws a RetrainRefusal
   * (409, details.reason) when the policy is disabled, a run is in flight, the cooldown has not
   * passed or there are too few labelled samples; 404 for an unknown model.
   */
  async request(request: RunRequest): Promise<RetrainRun> {
    const id = await admitRun(this.store, request);
    this.#refusals.delete(request.model);
    this.#logger.info({ runId: id, model: request.model, trigger: request.trigger }, 'retraining run queued');
    await this.store.recordEvent('retrain.run.queued', request.model, request.actor, {
      runId: id,
      trigger: request.trigger,
      detail: request.detail,
    });
    this.nudge();
    return this.store.getRun(id);
  }

  /** The DriftMonitor's `onReport`: a report at or above the model's trigger state asks for a run. */
  onDriftReport(stored: StoredDriftReport): void {
    const task = this.#fromDrift(stored).catch((err: unknown) =>
      this.#logger.error({ model: stored.model, err }, 'retraining: could not act on a drift report'),
    );
    this.#pending.add(task);
    void task.finally(() => this.#pending.delete(task));
  }

  /** Settles once every drift report handed over so far has been acted on (tests). */
  async settled(): Promise<void> {
    await Promise.all([...this.#pending]);
  }

  async #fromDrift(stored: StoredDriftReport): Promise<RetrainRun | undefined> {
    const { report } = stored;
    if (report.state !== 'warn' && report.state !== 'alert') return undefined;
    const { policy } = await this.store.getPolicy(this.store.db, stored.model);
    if (!reachesTrigger(report.state, policy)) return undefined;
    try {
      return await this.request({
        model: stored.model,
        trigger: 'drift',
        actor: 'drift-monitor',
        detail: {
          version: stored.version,
          scope: `${stored.scopeKind}:${stored.scope}`,
          state: report.state,
          drifted: report.drifted,
          samples: report.samples,
          windowStart: stored.windowStart.toISOString(),
          windowEnd: stored.windowEnd.toISOString(),
        },
      });
    } catch (error) {
      if (!(error instanceof RetrainRefusal)) throw error;
      await this.#recordRefusal(stored, error);
      return undefined;
    }
  }

  async #recordRefusal(stored: StoredDriftReport, refusal: RetrainRefusal): Promise<void> {
    if (this.#refusals.get(stored.model) === refusal.refusal) return;
    this.#refusals.set(stored.model, refusal.refusal);
    this.#logger.info(
      { model: stored.model, reason: refusal.refusal, state: stored.report.state },
      `drift did not start a retraining run: ${refusal.message}`,
    );
    await this.store.recordEvent('retrain.refused', stored.model, 'drift-monitor', {
      reason: refusal.refusal,
      message: refusal.message,
      version: stored.version,
      state: stored.report.state,
    });
  }

  // The read side and the policy, for the API.

  getRun(id: string): Promise<RetrainRun> {
    return this.store.getRun(id);
  }

  listRuns(filter: { model?: string; status?: RunStatus[]; limit?: number } = {}): Promise<RetrainRun[]> {
    return this.store.listRuns(filter);
  }

  async getPolicy(model: string): Promise<{ policy: RetrainPolicy; stored: boolean }> {
    await this.#o.registry.getModel(model); // 404 for an unknown model
    return this.store.getPolicy(this.store.db, model);
  }

  async putPolicy(model: string, input: RetrainPolicyInput, actor: string): Promise<RetrainPolicy> {
    await this.#o.registry.getModel(model);
    const policy = await this.store.putPolicy(model, input, actor);
    this.#refusals.delete(model); // a new policy may decide differently: record the next refusal again
    return policy;
  }
}
