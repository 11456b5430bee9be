// Aliases (`champion`, `challenger`, any name) are the only mutable part of the registry: a pointer
// from a name to a version, moved by rollouts and operators. Every move is written to the event log
// in the same transaction, so "who pointed champion at v7, and when" always has an answer.
import { and, asc, eq, sql } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { events, modelAliases } from '../db/schema.ts';
import type { AliasChange } from './records.ts';

export const ALIAS_SET_EVENT = 'model.alias.set';
export const ALIAS_REMOVED_EVENT = 'model.alias.removed';

export function modelSubject(model: string): string {
  return `model:${model}`;
}

interface AliasEventData {
  alias: string;
  version: number | null;
  previousVersion: number | null;
}

/** Points `alias` at `version` (which must exist: a foreign key guarantees no dangling alias). */
export async function writeAlias(
  tx: Db,
  change: { model: string; alias: string; version: number; actor: string; at: Date },
): Promise<AliasChange> {
  const [current] = await tx
    .select({ version: modelAliases.version })
    .from(modelAliases)
    .where(and(eq(modelAliases.modelName, change.model), eq(modelAliases.alias, change.alias)))
    .for('update');
  await tx
    .insert(modelAliases)
    .values({ modelName: change.model, alias: change.alias, version: change.version, updatedAt: change.at })
    .onConflictDoUpdate({
      target: [modelAliases.modelName, modelAliases.alias],
      set: { version: change.version, updatedAt: change.at },
    });
  const previousVersion = current?.version ?? null;
  await recordAliasEvent(tx, ALIAS_SET_EVENT, { ...change, previousVersion });
  return { ...change, previousVersion };
}

/** Removes `alias`; returns null when it did not exist (nothing is logged then). */
export async function deleteAlias(
  tx: Db,
  change: { model: string; alias: string; actor: string; at: Date },
): Promise<AliasChange | null> {
  const [removed] = await tx
    .delete(modelAliases)
    .where(and(eq(modelAliases.modelName, change.model), eq(modelAliases.alias, change.alias)))
    .returning({ version: modelAliases.version });
  if (removed === undefined) return null;
  const result = { ...change, version: null, previousVersion: removed.version };
  await recordAliasEvent(tx, ALIAS_REMOVED_EVENT, result);
  return result;
}

async function recordAliasEvent(tx: Db, kind: string, change: AliasChange): Promise<void> {
  const data: AliasEventData = {
    alias: change.alias,
    version: change.version,
    previousVersion: change.previousVersion,
  };
  await tx
    .insert(events)
    .values({ kind, subject: modelSubject(change.model), actor: change.actor, at: change.at, data });
}

/** alias → version for one model. */
export async function aliasesOf(db: Db, model: string): Promise<Record<string, number>> {
  const rows = await db
    .select({ alias: modelAliases.alias, version: modelAliases.version })
    .from(modelAliases)
    .where(eq(modelAliases.modelName, model))
    .orderBy(asc(modelAliases.alias));
  return Object.fromEntries(rows.map((r) => [r.alias, r.version]));
}

/** Every move of the model's aliases (or of one alias), oldest first. */
export async function aliasHistory(db: Db, model: string, alias?: string): Promise<AliasChange[]> {
  const rows = await db
    .select()
    .from(events)
    .where(
      and(
        eq(events.subject, modelSubject(model)),
        sql`${events.kind} in (${ALIAS_SET_EVENT}, ${ALIAS_REMOVED_EVENT})`,
        alias === undefined ? undefined : sql`${events.data}->>'alias' = ${alias}`,
      ),
    )
    .orderBy(asc(events.id));
  return rows.map((row) => {
    const data = row.data as AliasEventData;
    return {
      model,
      alias: data.alias,
      version: data.version,
      previousVersion: data.previousVersion,
      actor: row.actor,
      at: row.at,
    };
  });
}
