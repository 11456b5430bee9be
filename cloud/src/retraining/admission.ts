// Whether a retraining run may start now, and if so its queued row. The checks and the insert share
// one transaction that locks the model's row, so two requests (a drift report and an operator, or two
// API processes) cannot both find "no run in flight" and both start one.
import { EdgeloopError } from '@edgeloop/shared';
import { eq } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { models } from '../db/schema.ts';
import { countLabelledSamples } from './fleet-samples.ts';
import type { RetrainPolicy } from './policy.ts';
import { newRunId, type RetrainStore, type RunTrigger } from './store.ts';

/** Why a run was not started: a stable code and a sentence for people. */
export type RefusalCode =
  | 'MODEL_NOT_FOUND'
  | 'RETRAIN_DISABLED'
  | 'RUN_IN_FLIGHT'
  | 'COOLDOWN'
  | 'TOO_FEW_SAMPLES';

export class RetrainRefusal extends EdgeloopError {
  readonly refusal: RefusalCode;

  constructor(refusal: RefusalCode, message: string, details: Record<string, unknown> = {}) {
    super(refusal === 'MODEL_NOT_FOUND' ? 'NOT_FOUND' : 'CONFLICT', message, {
      details: { reason: refusal, ...details },
    });
    this.name = 'RetrainRefusal';
    this.refusal = refusal;
  }
}

export interface RunRequest {
  model: string;
  trigger: RunTrigger;
  detail: Record<string, unknown>;
  actor: string;
}

/** Inserts a queued run, or throws a RetrainRefusal naming the first check that failed. */
export async function admitRun(store: RetrainStore, request: RunRequest): Promise<string> {
  const now = store.now();
  const id = newRunId();
  await store.db.transaction(async (tx: Db) => {
    const [model] = await tx
      .select({ name: models.name })
      .from(models)
      .where(eq(models.name, request.model))
      .for('update');
    if (model === undefined) throw new RetrainRefusal('MODEL_NOT_FOUND', `no model ${request.model}`);
    const { policy } = await store.getPolicy(tx, request.model);
    await check(store, tx, request.model, policy, now);
    await store.insertRun(tx, {
      id,
      model: request.model,
      trigger: request.trigger,
      triggerDetail: request.detail,
      createdBy: request.actor,
    });
  });
  return id;
}

async function check(store: RetrainStore, tx: Db, model: string, policy: RetrainPolicy, now: Date) {
  if (!policy.enabled)
    throw new RetrainRefusal('RETRAIN_DISABLED', `retraining of ${model} is disabled by its policy`);
  const active = await store.activeRun(tx, model);
  if (active !== undefined) {
    throw new RetrainRefusal('RUN_IN_FLIGHT', `run ${active.id} of ${model} is still ${active.status}`, {
      runId: active.id,
    });
  }
  const last = await store.latestRun(tx, model);
  if (last !== undefined) {
    const since = Date.parse(last.finishedAt ?? last.createdAt);
    const readyAt = since + policy.cooldownSeconds * 1000;
    if (now.getTime() < readyAt) {
      const minutes = Math.ceil((readyAt - now.getTime()) / 60_000);
      throw new RetrainRefusal(
        'COOLDOWN',
        `run ${last.id} of ${model} ended less than ${policy.cooldownSeconds} s ago; the next may start in ${minutes} min`,
        { runId: last.id, readyAt: new Date(readyAt).toISOString() },
      );
    }
  }
  const since = new Date(now.getTime() - policy.recentWindowSeconds * 1000);
  const labelled = await countLabelledSamples(tx, model, since);
  if (labelled < policy.minLabelledSamples) {
    throw new RetrainRefusal(
      'TOO_FEW_SAMPLES',
      `${model} has ${labelled} labelled samples from the last ${Math.round(policy.recentWindowSeconds / 3600)} h; the policy needs ${policy.minLabelledSamples}`,
      { labelled, required: policy.minLabelledSamples },
    );
  }
}
