// Rollout persistence: every rollout's state lives in Postgres (rollouts, rollout_waves,
// rollout_devices, rollout_events), so any cloud process can load it and carry on. Writes are
// optimistic: a step is saved only if the rollout's `revision` is still the one it was computed
// from, so a scheduler tick and an operator's command never overwrite each other.
import { randomBytes } from 'node:crypto';
import { EdgeloopError, type ModelRef } from '@edgeloop/shared';
import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { toEdgeloopError } from '../db/errors.ts';
import { rolloutDevices, rolloutEvents, rollouts, rolloutWaves } from '../db/schema.ts';
import type { RolloutDevice, RolloutEvent, RolloutState, RolloutStatus, RolloutWave } from './machine.ts';
import type { RolloutPlan } from './plan.ts';
import {
  type RolloutPolicy,
  type RolloutTarget,
  rolloutPolicySchema,
  rolloutTargetSchema,
} from './policy.ts';

export interface RolloutRecord {
  id: string;
  kind: 'rollout' | 'rollback';
  rollbackOf: string | null;
  modelName: string;
  version: number;
  target: RolloutTarget;
  policy: RolloutPolicy;
  seed: number;
  status: RolloutStatus;
  reason: string;
  currentWave: number;
  revision: number;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

export interface LoadedRollout {
  record: RolloutRecord;
  state: RolloutState;
}

export interface Conflict {
  deviceId: string;
  rolloutId: string;
}

export function newRolloutId(): string {
  return `ro-${randomBytes(6).toString('hex')}`;
}

const date = (ms: number | null) => (ms === null ? null : new Date(ms));
const ms = (d: Date | null) => (d === null ? null : d.getTime());

function toRecord(row: typeof rollouts.$inferSelect): RolloutRecord {
  return {
    ...row,
    target: rolloutTargetSchema.parse(row.target),
    policy: rolloutPolicySchema.parse(row.policy),
  };
}

function toWave(row: typeof rolloutWaves.$inferSelect): RolloutWave {
  return {
    index: row.index,
    status: row.status,
    params: row.params as RolloutWave['params'],
    acceptedFailures: row.acceptedFailures,
    startedAt: ms(row.startedAt),
    soakStartedAt: ms(row.soakStartedAt),
    finishedAt: ms(row.finishedAt),
  };
}

function toDevice(row: typeof rolloutDevices.$inferSelect): RolloutDevice {
  return {
    deviceId: row.deviceId,
    wave: row.wave,
    state: row.state,
    modelVersion: row.modelVersion,
    variant: row.variant,
    sha256: row.sha256,
    chunkSize: row.chunkSize,
    fromModel: (row.fromModel as ModelRef | null) ?? null,
    generation: row.generation,
    flagged: row.flagged,
    reason: row.reason,
    sentAt: ms(row.sentAt),
  };
}

/** Every column of a rollout device row but its key and `claimed`, taken from the upserted row. */
const UPSERT_FROM_EXCLUDED = Object.fromEntries(
  (
    [
      'wave',
      'state',
      'modelVersion',
      'variant',
      'sha256',
      'chunkSize',
      'fromModel',
      'generation',
      'flagged',
      'reason',
      'sentAt',
      'updatedAt',
    ] as const
  ).map((key) => [key, sql.raw(`excluded.${rolloutDevices[key].name}`)]),
);

function deviceRow(rolloutId: string, d: RolloutDevice, claimed: boolean, at: Date) {
  return {
    rolloutId,
    deviceId: d.deviceId,
    wave: d.wave,
    state: d.state,
    modelVersion: d.modelVersion,
    variant: d.variant,
    sha256: d.sha256,
    chunkSize: d.chunkSize,
    fromModel: d.fromModel,
    generation: d.generation,
    flagged: d.flagged,
    claimed,
    reason: d.reason,
    sentAt: date(d.sentAt),
    updatedAt: at,
  };
}

/** Unfinished rollouts holding any of `deviceIds`. */
export async function findConflicts(db: Db, deviceIds: readonly string[]): Promise<Conflict[]> {
  const out: Conflict[] = [];
  for (let i = 0; i < deviceIds.length; i += 1000) {
    const rows = await db
      .select({ deviceId: rolloutDevices.deviceId, rolloutId: rolloutDevices.rolloutId })
      .from(rolloutDevices)
      .where(
        and(eq(rolloutDevices.claimed, true), inArray(rolloutDevices.deviceId, deviceIds.slice(i, i + 1000))),
      );
    out.push(...rows);
  }
  return out.sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
}

export function conflictError(conflicts: readonly Conflict[]): EdgeloopError {
  const rolloutIds = [...new Set(conflicts.map((c) => c.rolloutId))];
  const shown = conflicts
    .slice(0, 20)
    .map((c) => c.deviceId)
    .join(', ');
  return new EdgeloopError(
    'CONFLICT',
    `${conflicts.length} device(s) are already in unfinished rollout(s) ${rolloutIds.join(', ')}: ${shown}${conflicts.length > 20 ? ', ...' : ''}`,
    { details: { conflicts } },
  );
}

export interface NewRollout {
  id: string;
  kind: 'rollout' | 'rollback';
  rollbackOf: string | null;
  modelName: string;
  version: number;
  target: RolloutTarget;
  policy: RolloutPolicy;
  seed: number;
  createdBy: string;
  plan: RolloutPlan;
}

/**
 * Writes a planned rollout and claims its devices. The claim is a partial unique index, so a race
 * with another process creating an overlapping rollout fails one of the two inserts.
 */
export async function insertRollout(db: Db, input: NewRollout, at: Date): Promise<void> {
  const { plan } = input;
  await db.insert(rollouts).values({
    id: input.id,
    kind: input.kind,
    rollbackOf: input.rollbackOf,
    modelName: input.modelName,
    version: input.version,
    target: input.target,
    policy: input.policy,
    seed: input.seed,
    status: 'running',
    reason: input.kind === 'rollback' ? `rolling back ${input.rollbackOf}` : 'created',
    createdBy: input.createdBy,
    createdAt: at,
    updatedAt: at,
  });
  if (plan.waves.length > 0) {
    await db.insert(rolloutWaves).values(
      plan.waves.map((w) => ({
        rolloutId: input.id,
        index: w.index,
        status: 'pending' as const,
        params: w.params,
      })),
    );
  }
  const planned: RolloutDevice[] = plan.devices.map((d) => ({
    deviceId: d.deviceId,
    wave: d.wave,
    state: 'pending',
    modelVersion: d.version,
    variant: d.variant,
    sha256: d.sha256,
    chunkSize: d.chunkSize,
    fromModel: d.fromModel,
    generation: null,
    flagged: false,
    reason: '',
    sentAt: null,
  }));
  const excluded: RolloutDevice[] = plan.excluded.map((e) => ({
    deviceId: e.deviceId,
    wave: null,
    state: 'excluded',
    modelVersion: null,
    variant: null,
    sha256: null,
    chunkSize: null,
    fromModel: null,
    generation: null,
    flagged: false,
    reason: e.reason,
    sentAt: null,
  }));
  const rows = [
    ...planned.map((d) => deviceRow(input.id, d, true, at)),
    ...excluded.map((d) => deviceRow(input.id, d, false, at)),
  ];
  // A claim taken meanwhile by another process fails this insert (unique violation, SQLSTATE 23505):
  // callers run this in a transaction and report the conflicts after it rolled back.
  for (let i = 0; i < rows.length; i += 500) {
    await db.insert(rolloutDevices).values(rows.slice(i, i + 500));
  }
  await insertEvents(db, input.id, at, input.createdBy, [
    {
      kind: input.kind === 'rollback' ? 'rollback.created' : 'rollout.created',
      wave: null,
      deviceId: null,
      reason:
        input.kind === 'rollback'
          ? `rollback of ${input.rollbackOf}: ${plan.devices.length} device(s) back to their previous model`
          : `${input.modelName} v${input.version} to ${plan.devices.length} device(s) in ${plan.waves.length} wave(s)`,
      data: { waves: plan.waves.map((w) => w.size), excluded: plan.excluded },
    },
    ...plan.excluded.map((e) => ({
      kind: 'device.excluded',
      wave: null,
      deviceId: e.deviceId,
      reason: e.reason,
    })),
  ]);
}

async function insertEvents(
  db: Db,
  rolloutId: string,
  at: Date,
  actor: string,
  events: readonly RolloutEvent[],
): Promise<void> {
  for (let i = 0; i < events.length; i += 500) {
    await db.insert(rolloutEvents).values(
      events.slice(i, i + 500).map((e) => ({
        rolloutId,
        at,
        kind: e.kind,
        wave: e.wave,
        deviceId: e.deviceId,
        reason: e.reason,
        actor,
        data: e.data ?? {},
      })),
    );
  }
}

export async function loadRollout(db: Db, id: string): Promise<LoadedRollout> {
  const [row] = await db.select().from(rollouts).where(eq(rollouts.id, id));
  if (row === undefined) throw new EdgeloopError('NOT_FOUND', `rollout ${id} does not exist`);
  const record = toRecord(row);
  const waves = await db
    .select()
    .from(rolloutWaves)
    .where(eq(rolloutWaves.rolloutId, id))
    .orderBy(asc(rolloutWaves.index));
  const devices = await db
    .select()
    .from(rolloutDevices)
    .where(eq(rolloutDevices.rolloutId, id))
    .orderBy(asc(rolloutDevices.deviceId));
  return {
    record,
    state: {
      id,
      kind: record.kind,
      modelName: record.modelName,
      version: record.version,
      status: record.status,
      reason: record.reason,
      onFailure: record.policy.onFailure,
      currentWave: record.currentWave,
      finishedAt: ms(record.finishedAt),
      waves: waves.map(toWave),
      devices: devices.map(toDevice),
    },
  };
}

/** Ids of the rollouts a scheduler drives (running or paused), oldest first. */
export async function unfinishedRolloutIds(db: Db): Promise<string[]> {
  const rows = await db
    .select({ id: rollouts.id })
    .from(rollouts)
    .where(inArray(rollouts.status, ['running', 'paused']))
    .orderBy(asc(rollouts.createdAt), asc(rollouts.id));
  return rows.map((r) => r.id);
}

/**
 * Finished rollouts whose shadow phase ended without passing while devices still carry the shadow:
 * the scheduler steps them too, to remove it.
 */
export async function shadowUndoRolloutIds(db: Db): Promise<string[]> {
  const rows = await db
    .selectDistinct({ id: rolloutWaves.rolloutId })
    .from(rolloutWaves)
    .innerJoin(rollouts, eq(rollouts.id, rolloutWaves.rolloutId))
    .where(
      and(
        inArray(rollouts.status, ['completed', 'aborted', 'rolled_back']),
        sql`${rolloutWaves.params}->'shadow'->>'status' in ('failed', 'cancelled')`,
        sql`jsonb_array_length(coalesce(${rolloutWaves.params}->'shadow'->'sent', '[]'::jsonb)) > 0`,
      ),
    );
  return rows.map((r) => r.id).sort();
}

/**
 * Saves `next` (computed from `loaded`) with its events in one transaction. Returns false, writing
 * nothing, when someone else saved this rollout since it was loaded. `also` runs in the same
 * transaction (creating the rollback that replaces a rolled-back rollout, moving an alias) before
 * the events are written; events it returns are recorded with them.
 */
export async function saveStep(
  db: Db,
  loaded: LoadedRollout,
  next: RolloutState,
  events: readonly RolloutEvent[],
  options: { actor?: string; at: Date; also?: (tx: Db) => Promise<RolloutEvent[] | undefined> },
): Promise<boolean> {
  const { at } = options;
  const before = new Map(loaded.state.devices.map((d) => [d.deviceId, d]));
  const finished = !['running', 'paused'].includes(next.status);
  try {
    return await db.transaction(async (tx) => {
      const updated = await tx
        .update(rollouts)
        .set({
          status: next.status,
          reason: next.reason,
          currentWave: next.currentWave,
          finishedAt: date(next.finishedAt),
          updatedAt: at,
          revision: sql`${rollouts.revision} + 1`,
        })
        .where(and(eq(rollouts.id, next.id), eq(rollouts.revision, loaded.record.revision)))
        .returning({ id: rollouts.id });
      if (updated.length === 0) return false;
      for (const wave of next.waves) {
        const old = loaded.state.waves.find((w) => w.index === wave.index);
        if (old === wave) continue;
        await tx
          .update(rolloutWaves)
          .set({
            status: wave.status,
            params: wave.params,
            acceptedFailures: wave.acceptedFailures,
            startedAt: date(wave.startedAt),
            soakStartedAt: date(wave.soakStartedAt),
            finishedAt: date(wave.finishedAt),
          })
          .where(and(eq(rolloutWaves.rolloutId, next.id), eq(rolloutWaves.index, wave.index)));
      }
      // Changed devices in multi-row statements (a wave of a thousand devices turning active in one
      // step was a thousand UPDATEs): every row exists, so the insert always takes the update path,
      // and `claimed` is left as it is.
      const changed = next.devices.filter((d) => before.get(d.deviceId) !== d);
      for (let i = 0; i < changed.length; i += 500) {
        await tx
          .insert(rolloutDevices)
          .values(changed.slice(i, i + 500).map((d) => deviceRow(next.id, d, true, at)))
          .onConflictDoUpdate({
            target: [rolloutDevices.rolloutId, rolloutDevices.deviceId],
            set: UPSERT_FROM_EXCLUDED,
          });
      }
      // A finished rollout lets go of its devices before anything else (its rollback) claims them.
      if (finished) {
        await tx
          .update(rolloutDevices)
          .set({ claimed: false })
          .where(and(eq(rolloutDevices.rolloutId, next.id), eq(rolloutDevices.claimed, true)));
      }
      const more = (await options.also?.(tx)) ?? [];
      await insertEvents(tx, next.id, at, options.actor ?? 'scheduler', [...events, ...more]);
      return true;
    });
  } catch (error) {
    throw toEdgeloopError(error, `saving rollout ${next.id}`);
  }
}

export async function listRollouts(
  db: Db,
  filter: { status?: RolloutStatus; limit: number },
): Promise<RolloutRecord[]> {
  const rows = await db
    .select()
    .from(rollouts)
    .where(filter.status ? eq(rollouts.status, filter.status) : undefined)
    .orderBy(desc(rollouts.createdAt), desc(rollouts.id))
    .limit(filter.limit);
  return rows.map(toRecord);
}

export interface StoredEvent extends RolloutEvent {
  id: number;
  at: Date;
  actor: string;
}

export async function listEvents(
  db: Db,
  rolloutId: string,
  options: { afterId?: number; limit: number },
): Promise<StoredEvent[]> {
  const rows = await db
    .select()
    .from(rolloutEvents)
    .where(
      and(
        eq(rolloutEvents.rolloutId, rolloutId),
        options.afterId === undefined ? undefined : sql`${rolloutEvents.id} > ${options.afterId}`,
      ),
    )
    .orderBy(asc(rolloutEvents.id))
    .limit(options.limit);
  return rows.map((r) => ({
    id: r.id,
    at: r.at,
    actor: r.actor,
    kind: r.kind,
    wave: r.wave,
    deviceId: r.deviceId,
    reason: r.reason,
    data: r.data as Record<string, unknown>,
  }));
}
