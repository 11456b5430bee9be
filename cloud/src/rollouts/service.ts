// Rollout operations for the API and CLI: create (resolve the version, load the target's devices,
// plan, refuse overlaps with the conflicting devices listed, persist), the operator commands (pause,
// resume, abort, rollback) and the read side. Commands only write the database; the scheduler —
// in this process or another — acts on the new state at its next tick.
import {
  type DeviceProfile,
  EdgeloopError,
  modelNameSchema,
  type ReportedState,
  reportedStateSchema,
} from '@edgeloop/shared';
import { and, arrayContains, desc, eq, inArray } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../db/database.ts';
import { sqlState, toEdgeloopError } from '../db/errors.ts';
import { devices, rollouts } from '../db/schema.ts';
import type { ModelRegistry } from '../registry/model-registry.ts';
import { aliasNameSchema } from '../registry/registration.ts';
import { applyCommand, type RolloutCommand } from './commands.ts';
import type { RolloutStatus } from './machine.ts';
import { type FleetDevice, planRollout } from './plan.ts';
import { type RolloutTarget, rolloutPolicySchema, rolloutTargetSchema } from './policy.ts';
import { prepareRollback } from './rollback.ts';
import { liveShadowResult } from './shadow-telemetry.ts';
import {
  conflictError,
  findConflicts,
  insertRollout,
  type LoadedRollout,
  listEvents,
  listRollouts,
  loadRollout,
  type NewRollout,
  newRolloutId,
  type StoredEvent,
  saveStep,
} from './store.ts';
import { type DeviceView, deviceView, type RolloutView, rolloutView } from './views.ts';

export const createRolloutSchema = z
  .strictObject({
    model: modelNameSchema,
    /** A registered version, or … */
    version: z.number().int().positive().optional(),
    /** … an alias resolved now (the rollout keeps the version it resolved to). */
    alias: aliasNameSchema.optional(),
    target: rolloutTargetSchema,
    /** Wave assignment seed; random when omitted (stored, so the plan can be recomputed). */
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .optional(),
    ...rolloutPolicySchema.shape,
  })
  .refine((v) => (v.version === undefined) !== (v.alias === undefined), 'give exactly one of version, alias');
export type CreateRolloutInput = z.input<typeof createRolloutSchema>;

export interface RolloutServiceOptions {
  db: Db;
  registry: Pick<ModelRegistry, 'getVersion' | 'getVariant' | 'resolveAlias'>;
  /** Device-class profiles by id (`loadProfiles()` from @edgeloop/firmware-configs). */
  profiles: () => Promise<ReadonlyMap<string, DeviceProfile>>;
  /** Chunk sizes the artifact server serves (default: 64 KiB only). */
  chunkSizes?: readonly number[];
  now?: () => number;
  /** Called after a rollout changed, so an in-process scheduler acts at once. */
  onChange?: (rolloutId: string) => void;
}

export class RolloutService {
  readonly #db: Db;
  readonly #options: RolloutServiceOptions;
  readonly #now: () => number;

  constructor(options: RolloutServiceOptions) {
    this.#db = options.db;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Plans and starts a rollout. CONFLICT (details.conflicts: device + rollout) when any of its
   * devices is in an unfinished rollout; VALIDATION_FAILED when no device of the target can take it.
   */
  async create(input: CreateRolloutInput, actor = 'system'): Promise<RolloutView> {
    const parsed = createRolloutSchema.safeParse(input);
    if (!parsed.success) {
      throw new EdgeloopError('VALIDATION_FAILED', `invalid rollout: ${z.prettifyError(parsed.error)}`, {
        details: parsed.error.issues,
      });
    }
    const { model, version, alias, target, seed, ...policyFields } = parsed.data;
    const policy = rolloutPolicySchema.parse(policyFields);
    const registry = this.#options.registry;
    const resolved =
      version !== undefined
        ? await registry.getVersion(model, version)
        : await registry.resolveAlias(model, alias as string);
    // Stored with the rollout, so the plan can be recomputed and explained later.
    const chosenSeed = seed ?? Math.floor(Math.random() * 2 ** 31);
    const plan = planRollout({
      target,
      fleet: await loadFleet(this.#db, target),
      profiles: await this.#options.profiles(),
      version: resolved.version,
      variants: resolved.variants.map((v) => ({ variant: v.variant, sha256: v.sha256, size: v.size })),
      policy,
      seed: chosenSeed,
      chunkSizes: this.#options.chunkSizes ?? [64 * 1024],
    });
    if (plan.devices.length === 0) {
      throw new EdgeloopError(
        'VALIDATION_FAILED',
        `no device of the target can take ${model} v${resolved.version}${plan.excluded.length > 0 ? ` (${plan.excluded.length} excluded)` : ' (the target matches no device)'}`,
        { details: { excluded: plan.excluded } },
      );
    }
    const rollout: NewRollout = {
      id: newRolloutId(),
      kind: 'rollout',
      rollbackOf: null,
      modelName: model,
      version: resolved.version,
      target,
      policy,
      seed: chosenSeed,
      createdBy: actor,
      plan,
    };
    await this.#insert(rollout);
    this.#options.onChange?.(rollout.id);
    return this.get(rollout.id);
  }

  async #insert(rollout: NewRollout): Promise<void> {
    const ids = rollout.plan.devices.map((d) => d.deviceId);
    const conflicts = await findConflicts(this.#db, ids);
    if (conflicts.length > 0) throw conflictError(conflicts);
    try {
      await this.#db.transaction((tx) => insertRollout(tx, rollout, new Date(this.#now())));
    } catch (error) {
      // Another process claimed one of the devices between the check and the insert.
      if (sqlState(error) === '23505') throw conflictError(await findConflicts(this.#db, ids));
      throw toEdgeloopError(error, `creating rollout ${rollout.id}`);
    }
  }

  async get(id: string): Promise<RolloutView> {
    const loaded = await loadRollout(this.#db, id);
    const live = await liveShadowResult(this.#db, loaded, this.#now());
    return rolloutView(loaded, await this.#rollbackOf(id), live);
  }

  async list(filter: { status?: RolloutStatus; limit?: number } = {}): Promise<RolloutView[]> {
    const records = await listRollouts(this.#db, { limit: filter.limit ?? 50, ...filter });
    return Promise.all(records.map((r) => this.get(r.id)));
  }

  async devices(id: string): Promise<DeviceView[]> {
    return (await loadRollout(this.#db, id)).state.devices.map(deviceView);
  }

  events(id: string, options: { afterId?: number; limit?: number } = {}): Promise<StoredEvent[]> {
    return listEvents(this.#db, id, { limit: options.limit ?? 500, ...options });
  }

  pause(id: string, actor: string, reason = 'paused by operator') {
    return this.command(id, { kind: 'pause', reason }, actor);
  }

  resume(id: string, actor: string, reason = 'resumed by operator') {
    return this.command(id, { kind: 'resume', reason }, actor);
  }

  abort(id: string, actor: string, reason = 'aborted by operator') {
    return this.command(id, { kind: 'abort', reason }, actor);
  }

  rollback(id: string, actor: string, reason = 'rolled back by operator') {
    return this.command(id, { kind: 'rollback', reason }, actor);
  }

  /** Applies an operator command, retrying if a scheduler tick saved the rollout meanwhile. */
  async command(id: string, command: RolloutCommand, actor: string): Promise<RolloutView> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const loaded = await loadRollout(this.#db, id);
      const now = this.#now();
      const step = applyCommand(loaded.state, command, now);
      const rollback = step.actions.some((a) => a.kind === 'rollback')
        ? await prepareRollback(
            (m, v, variant) => this.#options.registry.getVariant(m, v, variant),
            loaded.record,
            step.state,
            actor,
          )
        : null;
      if (rollback) {
        step.events.push({
          kind: 'rollout.rolled_back',
          wave: null,
          deviceId: null,
          reason: `replaced by rollback ${rollback.id}`,
          data: { rollbackId: rollback.id },
        });
      }
      const saved = await this.#save(loaded, step, actor, rollback, now);
      if (saved) {
        this.#options.onChange?.(id);
        if (rollback) this.#options.onChange?.(rollback.id);
        return this.get(id);
      }
    }
    throw new EdgeloopError('CONFLICT', `rollout ${id} kept changing; try again`);
  }

  async #save(
    loaded: LoadedRollout,
    step: ReturnType<typeof applyCommand>,
    actor: string,
    rollback: NewRollout | null,
    now: number,
  ): Promise<boolean> {
    const at = new Date(now);
    try {
      return await saveStep(this.#db, loaded, step.state, step.events, {
        actor,
        at,
        ...(rollback
          ? {
              also: async (tx: Db) => {
                await insertRollout(tx, rollback, at);
                return [];
              },
            }
          : {}),
      });
    } catch (error) {
      if (rollback && sqlState(error) === '23505')
        throw conflictError(
          await findConflicts(
            this.#db,
            rollback.plan.devices.map((d) => d.deviceId),
          ),
        );
      throw error;
    }
  }

  async #rollbackOf(id: string): Promise<string | null> {
    const [row] = await this.#db
      .select({ id: rollouts.id })
      .from(rollouts)
      .where(and(eq(rollouts.rollbackOf, id), eq(rollouts.kind, 'rollback')))
      .orderBy(desc(rollouts.createdAt))
      .limit(1);
    return row?.id ?? null;
  }
}

/** The devices a target may match, with what each last reported running. */
export async function loadFleet(db: Db, target: RolloutTarget): Promise<FleetDevice[]> {
  const where =
    target.kind === 'group'
      ? eq(devices.groupName, target.group)
      : target.kind === 'class'
        ? eq(devices.deviceClass, target.deviceClass)
        : target.kind === 'tags'
          ? arrayContains(devices.tags, target.tags)
          : inArray(devices.id, target.deviceIds);
  const rows = await db
    .select({
      id: devices.id,
      group: devices.groupName,
      tags: devices.tags,
      deviceClass: devices.deviceClass,
      reported: devices.reported,
    })
    .from(devices)
    .where(where);
  return rows.map((r) => ({
    id: r.id,
    group: r.group,
    tags: r.tags,
    deviceClass: r.deviceClass,
    active: parseReported(r.reported)?.active ?? null,
  }));
}

export function parseReported(value: unknown): ReportedState | null {
  if (value === null || value === undefined) return null;
  const parsed = reportedStateSchema.safeParse(value);
  return parsed.success ? parsed.data : null;
}
