// Persistence of retraining: policies per model (`retrain_policies`) and runs (`retrain_runs`), and
// the run as the API, CLI and dashboard see it. Runs are the orchestrator's durable state: a restart
// reads them to resume watching canaries and to close runs a dead process left half-done.
import { randomBytes } from 'node:crypto';
import { EdgeloopError } from '@edgeloop/shared';
import { and, desc, eq, inArray } from 'drizzle-orm';
import * as z from 'zod';
import type { Db } from '../db/database.ts';
import { events, retrainPolicies, retrainRuns } from '../db/schema.ts';
import { type RetrainPolicy, type RetrainPolicyInput, retrainPolicySchema } from './policy.ts';

export const RUN_STATUSES = [
  'queued',
  'training',
  'evaluating',
  'rejected',
  'canary',
  'promoted',
  'failed',
  'cancelled',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
/** Statuses of a run still going: at most one per model. */
export const ACTIVE_STATUSES: readonly RunStatus[] = ['queued', 'training', 'evaluating', 'canary'];
export const FINISHED_STATUSES: readonly RunStatus[] = ['rejected', 'promoted', 'failed', 'cancelled'];

export type RunTrigger = 'drift' | 'manual';

export interface RunProgress {
  /** queued, dataset, training, evaluating, canary, done. */
  stage: string;
  /** Of the whole run, 0..1 (the canary's share is the rollout's active devices). */
  fraction: number;
  message: string;
  /** The pipeline job that trains the challenger, while one does. */
  jobId?: string;
}

export interface RetrainRun {
  id: string;
  model: string;
  status: RunStatus;
  trigger: RunTrigger;
  triggerDetail: Record<string, unknown>;
  championVersion: number | null;
  challengerVersion: number | null;
  rolloutId: string | null;
  progress: RunProgress;
  evaluation: Record<string, unknown> | null;
  lineage: Record<string, unknown>;
  reason: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

type Row = typeof retrainRuns.$inferSelect;

const progressSchema = z.object({
  stage: z.string(),
  fraction: z.number(),
  message: z.string(),
  jobId: z.string().optional(),
});

function toRun(row: Row): RetrainRun {
  const progress = progressSchema.safeParse(row.progress);
  return {
    id: row.id,
    model: row.modelName,
    status: row.status,
    trigger: row.trigger,
    triggerDetail: (row.triggerDetail ?? {}) as Record<string, unknown>,
    championVersion: row.championVersion,
    challengerVersion: row.challengerVersion,
    rolloutId: row.rolloutId,
    progress: progress.success ? progress.data : { stage: row.status, fraction: 0, message: '' },
    evaluation: (row.evaluation ?? null) as Record<string, unknown> | null,
    lineage: (row.lineage ?? {}) as Record<string, unknown>,
    reason: row.reason,
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    finishedAt: row.finishedAt?.toISOString() ?? null,
  };
}

export function newRunId(): string {
  return `rt-${randomBytes(6).toString('hex')}`;
}

export const RETRAIN_EVENT_SUBJECT = (model: string) => `model:${model}`;

export class RetrainStore {
  constructor(
    readonly db: Db,
    readonly now: () => Date = () => new Date(),
  ) {}

  async insertRun(
    tx: Db,
    run: { id: string; model: string; trigger: RunTrigger; triggerDetail: object; createdBy: string },
  ): Promise<void> {
    const at = this.now();
    await tx.insert(retrainRuns).values({
      id: run.id,
      modelName: run.model,
      status: 'queued',
      trigger: run.trigger,
      triggerDetail: run.triggerDetail,
      progress: { stage: 'queued', fraction: 0, message: 'waiting for the orchestrator' },
      createdBy: run.createdBy,
      createdAt: at,
      updatedAt: at,
    });
  }

  /** Applies `patch`; a finished status stamps `finished_at`. */
  async updateRun(
    id: string,
    patch: Partial<{
      status: RunStatus;
      championVersion: number | null;
      challengerVersion: number | null;
      rolloutId: string | null;
      progress: RunProgress;
      evaluation: Record<string, unknown>;
      lineage: Record<string, unknown>;
      reason: string;
    }>,
  ): Promise<void> {
    const at = this.now();
    const finished = patch.status !== undefined && FINISHED_STATUSES.includes(patch.status);
    await this.db
      .update(retrainRuns)
      .set({ ...patch, updatedAt: at, ...(finished ? { finishedAt: at } : {}) })
      .where(eq(retrainRuns.id, id));
  }

  async getRun(id: string): Promise<RetrainRun> {
    const [row] = await this.db.select().from(retrainRuns).where(eq(retrainRuns.id, id));
    if (row === undefined) throw new EdgeloopError('NOT_FOUND', `no retraining run ${id}`);
    return toRun(row);
  }

  async listRuns(filter: { model?: string; status?: readonly RunStatus[]; limit?: number } = {}) {
    const where = and(
      filter.model === undefined ? undefined : eq(retrainRuns.modelName, filter.model),
      filter.status === undefined ? undefined : inArray(retrainRuns.status, [...filter.status]),
    );
    const rows = await this.db
      .select()
      .from(retrainRuns)
      .where(where)
      .orderBy(desc(retrainRuns.createdAt), desc(retrainRuns.id))
      .limit(filter.limit ?? 50);
    return rows.map(toRun);
  }

  /** The model's newest run, any status. */
  async latestRun(tx: Db, model: string): Promise<RetrainRun | undefined> {
    const [row] = await tx
      .select()
      .from(retrainRuns)
      .where(eq(retrainRuns.modelName, model))
      .orderBy(desc(retrainRuns.createdAt), desc(retrainRuns.id))
      .limit(1);
    return row === undefined ? undefined : toRun(row);
  }

  async activeRun(tx: Db, model: string): Promise<RetrainRun | undefined> {
    const [row] = await tx
      .select()
      .from(retrainRuns)
      .where(and(eq(retrainRuns.modelName, model), inArray(retrainRuns.status, [...ACTIVE_STATUSES])))
      .limit(1);
    return row === undefined ? undefined : toRun(row);
  }

  /** The stored policy, or the defaults (`stored: false`) when none was ever set. */
  async getPolicy(db: Db, model: string): Promise<{ policy: RetrainPolicy; stored: boolean }> {
    const [row] = await db.select().from(retrainPolicies).where(eq(retrainPolicies.modelName, model));
    if (row === undefined) return { policy: retrainPolicySchema.parse({}), stored: false };
    const parsed = retrainPolicySchema.safeParse(row.policy);
    if (!parsed.success) {
      // Written by an older or newer cloud: refuse to guess rather than retrain on a wrong policy.
      throw new EdgeloopError(
        'INTERNAL',
        `the stored retraining policy of ${model} is not valid: ${z.prettifyError(parsed.error)}`,
      );
    }
    return { policy: parsed.data, stored: true };
  }

  /** Replaces the model's policy (defaults filled in). The model must exist. */
  async putPolicy(model: string, input: RetrainPolicyInput, actor: string): Promise<RetrainPolicy> {
    const parsed = retrainPolicySchema.safeParse(input);
    if (!parsed.success) {
      throw new EdgeloopError(
        'VALIDATION_FAILED',
        `invalid retraining policy: ${z.prettifyError(parsed.error)}`,
        {
          details: parsed.error.issues,
        },
      );
    }
    const policy = parsed.data;
    const at = this.now();
    await this.db.transaction(async (tx) => {
      await tx
        .insert(retrainPolicies)
        .values({ modelName: model, policy, updatedBy: actor, updatedAt: at })
        .onConflictDoUpdate({
          target: retrainPolicies.modelName,
          set: { policy, updatedBy: actor, updatedAt: at },
        });
      await tx.insert(events).values({
        kind: 'retrain.policy.set',
        subject: RETRAIN_EVENT_SUBJECT(model),
        actor,
        at,
        data: { policy },
      });
    });
    return policy;
  }

  async recordEvent(
    kind: string,
    model: string,
    actor: string,
    data: Record<string, unknown>,
  ): Promise<void> {
    await this.db
      .insert(events)
      .values({ kind, subject: RETRAIN_EVENT_SUBJECT(model), actor, at: this.now(), data });
  }
}
