// Follows the canary rollout of every run in `canary`: a completed rollout makes the challenger the
// champion (the alias moves through the registry, recorded in its event log) and the run `promoted`;
// a rolled-back or aborted one ends the run `failed` with the rollout's reason, the champion untouched.
// Either way the `challenger` alias stops naming the run's version, so nothing (a web app pinned to
// `challenger`, say) keeps loading a model that lost. A run that drift started also asks for a new
// drift baseline of the slice that drifted, on the promoted version: that slice's inputs are the new
// normal the model was retrained for, and judging them against the old validation images would
// alarm forever. State lives in the runs and rollouts tables, so a restarted orchestrator carries on.
import type { DriftScopeKind } from '../drift/index.ts';
import { requestBaseline } from '../drift/index.ts';
import type { Logger } from '../log/index.ts';
import type { ModelRegistry } from '../registry/index.ts';
import type { RolloutService } from '../rollouts/index.ts';
import { progressOf, RETRAINING_ACTOR } from './run-executor.ts';
import type { RetrainRun, RetrainStore } from './store.ts';

export class CanaryWatcher {
  constructor(
    private readonly store: RetrainStore,
    private readonly registry: Pick<ModelRegistry, 'setAlias' | 'removeAlias' | 'resolveAlias'>,
    private readonly rollouts: Pick<RolloutService, 'get'>,
    private readonly logger: Logger,
    /** Inferences a drifted slice's new baseline is collected from (undefined: the default). */
    private readonly baselineSamples?: number,
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
      await this.#retireChallengerAlias(run.model, run.challengerVersion);
      await this.#rebaseline(run, run.challengerVersion);
      await this.#end(
        run,
        'promoted',
        `canary rollout ${rollout.id} completed; v${run.challengerVersion} is now the champion`,
      );
      return true;
    }
    if (rollout.status === 'rolled_back' || rollout.status === 'aborted') {
      const why = rollout.reason || 'no reason given';
      await this.#retireChallengerAlias(run.model, run.challengerVersion);
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

  /** Removes `challenger` when it still names this run's version (an operator may have moved it). */
  async #retireChallengerAlias(model: string, version: number): Promise<void> {
    const current = await this.registry.resolveAlias(model, 'challenger').catch(() => undefined);
    if (current?.version !== version) return;
    await this.registry.removeAlias(model, 'challenger', RETRAINING_ACTOR).catch((error: unknown) => {
      this.logger.warn({ model, err: error }, 'could not remove the challenger alias');
    });
  }

  /** After a drift-triggered promotion: the drifted slice collects a new baseline on the new version. */
  async #rebaseline(run: RetrainRun, version: number): Promise<void> {
    if (run.trigger !== 'drift') return;
    const scope = parseScope(run.triggerDetail.scope);
    if (scope === undefined) return;
    const baseline = await requestBaseline(this.store.db, {
      model: run.model,
      version,
      ...scope,
      ...(this.baselineSamples === undefined ? {} : { targetSamples: this.baselineSamples }),
      reason: `retraining run ${run.id} promoted v${version} for drift in ${scope.scopeKind} ${scope.scope}`,
      requestedBy: RETRAINING_ACTOR,
    });
    await this.store.recordEvent('drift.baseline.requested', run.model, RETRAINING_ACTOR, {
      runId: run.id,
      version,
      scopeKind: scope.scopeKind,
      scope: scope.scope,
      targetSamples: baseline.targetSamples,
    });
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

/** `device_class:pi4` → its parts; the orchestrator writes a drift run's scope this way. */
function parseScope(value: unknown): { scopeKind: DriftScopeKind; scope: string } | undefined {
  if (typeof value !== 'string') return undefined;
  const at = value.indexOf(':');
  const kind = value.slice(0, at);
  if (at < 0 || (kind !== 'device_class' && kind !== 'group')) return undefined;
  return { scopeKind: kind, scope: value.slice(at + 1) };
}
