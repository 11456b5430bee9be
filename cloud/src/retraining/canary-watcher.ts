// Follows the canary rollout of every run in `canary`: a completed rollout makes the challenger the
// champion (the alias moves through the registry, recorded in its event log) and the run `promoted`;
// a rolled-back or aborted one ends the run `failed` with the rollout's reason, the champion untouched.
// State lives in the runs and rollouts tables, so a restarted orchestrator simply carries on.
import type { Logger } from '../log/index.ts';
import type { ModelRegistry } from '../registry/index.ts';
import type { RolloutService } from '../rollouts/index.ts';
import { progressOf, RETRAINING_ACTOR } from './run-executor.ts';
import type { RetrainRun, RetrainStore } from './store.ts';

export class CanaryWatcher {
  constructor(
    private readonly store: RetrainStore,
    private readonly registry: Pick<ModelRegistry, 'setAlias'>,
    private readonly rollouts: Pick<RolloutService, 'get'>,
    private readonly logger: Logger,
  ) {}

  /** One look at every canary run; returns how many ended. */
  async check(): Promise<number> {
    const runs = await this.store.listRuns({ status: ['canary'], limit: 100 });
    let ended = 0;
    for (const run of runs) {
      try {
        if (await this.#checkOne(run)) ended++;
      } catch (error) {
        this.logger.warn({ runId: run.id, err: error }, 'could not check the canary of a retraining run');
      }
    }
    return ended;
  }

  async #checkOne(run: RetrainRun): Promise<boolean> {
    if (run.rolloutId === null || run.challengerVersion === null) {
      await this.#end(run, 'failed', 'in canary without a rollout or challenger (inconsistent run)');
      return true;
    }
    const rollout = await this.rollouts.get(run.rolloutId);
    if (rollout.status === 'completed') {
      await this.registry.setAlias(run.model, 'champion', run.challengerVersion, RETRAINING_ACTOR);
      await this.#end(
        run,
        'promoted',
        `canary rollout ${rollout.id} completed; v${run.challengerVersion} is now the champion`,
      );
      return true;
    }
    if (rollout.status === 'rolled_back' || rollout.status === 'aborted') {
      const why = rollout.reason || 'no reason given';
      await this.#end(
        run,
        'failed',
        `canary rollout ${rollout.id} ${rollout.status.replace('_', ' ')}: ${why}`,
      );
      return true;
    }
    const { active, total } = rollout.totals;
    const wave = `wave ${Math.min(rollout.currentWave + 1, rollout.waves.length)}/${rollout.waves.length}`;
    const paused = rollout.status === 'paused' ? ` — paused: ${rollout.reason}` : '';
    const message = `canary rollout ${rollout.id}: ${wave}, ${active}/${total} devices active${paused}`;
    if (message !== run.progress.message) {
      await this.store.updateRun(run.id, {
        progress: progressOf('canary', total === 0 ? 0 : active / total, message),
      });
    }
    return false;
  }

  async #end(run: RetrainRun, status: 'promoted' | 'failed', reason: string): Promise<void> {
    await this.store.updateRun(run.id, {
      status,
      reason,
      progress: { stage: 'done', fraction: 1, message: reason },
    });
    await this.store.recordEvent('retrain.run.finished', run.model, RETRAINING_ACTOR, {
      runId: run.id,
      status,
      reason,
      challengerVersion: run.challengerVersion,
      rolloutId: run.rolloutId,
    });
    this.logger.info({ runId: run.id, model: run.model, status, reason }, 'retraining run ended');
  }
}
