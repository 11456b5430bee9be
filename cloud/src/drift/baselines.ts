// Per-slice baselines (`drift_baselines`): which slices of the fleet are judged against their own
// observed normal instead of their version's validation profile, and the collection of that normal.
// Requested after a retrained version is promoted for drift in a slice (the canary watcher) or by an
// operator (API, `edgeloop drift baseline`); the DriftMonitor collects and activates them.
import { randomUUID } from 'node:crypto';
import { EdgeloopError, type ReferenceProfile, referenceProfileSchema } from '@edgeloop/shared';
import { and, asc, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/index.ts';
import { driftBaselines } from '../db/schema.ts';
import type { DriftScopeKind } from './drift-monitor.ts';

/** Inferences collected before a new baseline replaces the version's profile for a slice. */
export const DEFAULT_BASELINE_SAMPLES = 500;

export interface BaselineKey {
  model: string;
  version: number;
  scopeKind: DriftScopeKind;
  scope: string;
}

export interface DriftBaseline extends BaselineKey {
  status: 'collecting' | 'active';
  /** Which request this is: a new request for the same slice replaces it. */
  requestId: string;
  targetSamples: number;
  collectedSamples: number;
  /** The slice's reference once active. */
  profile: ReferenceProfile | null;
  reason: string;
  requestedBy: string;
  createdAt: Date;
  updatedAt: Date;
  activatedAt: Date | null;
}

type Row = typeof driftBaselines.$inferSelect;

function toBaseline(row: Row): DriftBaseline {
  const profile = referenceProfileSchema.safeParse(row.profile);
  return {
    model: row.modelName,
    version: row.modelVersion,
    scopeKind: row.scopeKind,
    scope: row.scope,
    status: row.status,
    requestId: row.requestId,
    targetSamples: row.targetSamples,
    collectedSamples: row.collectedSamples,
    profile: profile.success ? profile.data : null,
    reason: row.reason,
    requestedBy: row.requestedBy,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    activatedAt: row.activatedAt,
  };
}

function matches(key: BaselineKey) {
  return and(
    eq(driftBaselines.modelName, key.model),
    eq(driftBaselines.modelVersion, key.version),
    eq(driftBaselines.scopeKind, key.scopeKind),
    eq(driftBaselines.scope, key.scope),
  );
}

/**
 * Starts (or restarts) collecting a slice's baseline: until `targetSamples` inferences of the slice
 * on that version have arrived, the slice is not judged; then they are its reference.
 */
export async function requestBaseline(
  db: Db,
  request: BaselineKey & { targetSamples?: number; reason: string; requestedBy: string },
): Promise<DriftBaseline> {
  const targetSamples = request.targetSamples ?? DEFAULT_BASELINE_SAMPLES;
  const values = {
    status: 'collecting' as const,
    requestId: randomUUID(),
    targetSamples,
    collectedSamples: 0,
    profile: null,
    reason: request.reason,
    requestedBy: request.requestedBy,
    updatedAt: sql`now()`,
    activatedAt: null,
  };
  const [row] = await db
    .insert(driftBaselines)
    .values({
      modelName: request.model,
      modelVersion: request.version,
      scopeKind: request.scopeKind,
      scope: request.scope,
      ...values,
    })
    .onConflictDoUpdate({
      target: [
        driftBaselines.modelName,
        driftBaselines.modelVersion,
        driftBaselines.scopeKind,
        driftBaselines.scope,
      ],
      set: values,
    })
    .returning();
  return toBaseline(row as Row);
}

/** Back to the version's validation profile for that slice. */
export async function removeBaseline(db: Db, key: BaselineKey): Promise<DriftBaseline> {
  const [row] = await db.delete(driftBaselines).where(matches(key)).returning();
  if (!row) {
    throw new EdgeloopError(
      'NOT_FOUND',
      `no drift baseline for ${key.model} v${key.version} ${key.scopeKind}:${key.scope}`,
    );
  }
  return toBaseline(row);
}

export async function listBaselines(
  db: Db,
  filter: { model?: string; scopeKind?: DriftScopeKind } = {},
): Promise<DriftBaseline[]> {
  const rows = await db
    .select()
    .from(driftBaselines)
    .where(
      and(
        filter.model === undefined ? undefined : eq(driftBaselines.modelName, filter.model),
        filter.scopeKind === undefined ? undefined : eq(driftBaselines.scopeKind, filter.scopeKind),
      ),
    )
    .orderBy(asc(driftBaselines.modelName), asc(driftBaselines.modelVersion), asc(driftBaselines.scope));
  return rows.map(toBaseline);
}

/** Records collection progress, unless the request was replaced or removed meanwhile. */
export async function recordCollected(db: Db, baseline: DriftBaseline, collected: number): Promise<void> {
  await db
    .update(driftBaselines)
    .set({ collectedSamples: collected })
    .where(and(matches(baseline), eq(driftBaselines.requestId, baseline.requestId)));
}

/** The collected windows become the slice's reference; false when the request changed meanwhile. */
export async function activateBaseline(
  db: Db,
  baseline: DriftBaseline,
  profile: ReferenceProfile,
): Promise<DriftBaseline | undefined> {
  const [row] = await db
    .update(driftBaselines)
    .set({
      status: 'active',
      profile,
      collectedSamples: profile.sampleSize,
      activatedAt: sql`now()`,
      updatedAt: sql`now()`,
    })
    .where(
      and(
        matches(baseline),
        eq(driftBaselines.status, 'collecting'),
        eq(driftBaselines.requestId, baseline.requestId),
      ),
    )
    .returning();
  return row ? toBaseline(row) : undefined;
}
