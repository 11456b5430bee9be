import {
  type DesiredState,
  type DesiredStateInput,
  type DeviceStatus,
  desiredStatePayload,
  type ReportedState,
} from '@edgeloop/shared';
import { and, eq, isNotNull, isNull, ne, or, sql } from 'drizzle-orm';
import { type Db, queryRows } from '../db/index.ts';
import { devices } from '../db/schema.ts';
import { IdentityError } from '../identity/errors.ts';

/** One device's desired state, as `storeDesired` takes it. */
export interface DesiredEntry {
  deviceId: string;
  desired: Omit<DesiredStateInput, 'v' | 'generation' | 'issuedAt'>;
}

/**
 * What the bridge writes to the `devices` table: connection state from `status`, the last valid
 * `reported`, last-seen times from telemetry, and the desired state it publishes.
 */
export class DeviceStateStore {
  private readonly known = new Set<string>();

  constructor(private readonly db: Db) {}

  /** Known to be provisioned, without asking the database (what `exists` remembered). */
  isKnown(deviceId: string): boolean {
    return this.known.has(deviceId);
  }

  /** Is this a provisioned device? Positive answers are remembered; devices are rarely deleted. */
  async exists(deviceId: string): Promise<boolean> {
    if (this.known.has(deviceId)) return true;
    const rows = await this.db.select({ id: devices.id }).from(devices).where(eq(devices.id, deviceId));
    if (rows.length > 0) this.known.add(deviceId);
    return rows.length > 0;
  }

  /**
   * Applies a status message. An `offline` from an earlier boot (a last will delivered after the
   * device already came back) must not mark a live device offline: it is applied only if the boot
   * id matches, or the device is not known to be online.
   */
  async applyStatus(
    deviceId: string,
    status: DeviceStatus,
    at: Date,
  ): Promise<'applied' | 'stale' | 'unknown'> {
    const fields = {
      connection: status.state,
      bootId: status.bootId,
      agentVersion: status.agentVersion,
      updatedAt: at,
    };
    const rows = await this.db
      .update(devices)
      .set(status.state === 'online' ? { ...fields, lastSeenAt: at } : fields)
      .where(
        status.state === 'online'
          ? eq(devices.id, deviceId)
          : and(
              eq(devices.id, deviceId),
              or(isNull(devices.bootId), eq(devices.bootId, status.bootId), ne(devices.connection, 'online')),
            ),
      )
      .returning({ id: devices.id });
    if (rows.length > 0) return 'applied';
    return (await this.exists(deviceId)) ? 'stale' : 'unknown';
  }

  async applyReported(deviceId: string, reported: ReportedState, at: Date): Promise<boolean> {
    const rows = await this.db
      .update(devices)
      .set({ reported, lastSeenAt: at, updatedAt: at })
      .where(eq(devices.id, deviceId))
      .returning({ id: devices.id });
    return rows.length > 0;
  }

  /**
   * `applyReported` for many devices in one statement (one entry per device); returns the ids it
   * updated, so the others are unknown.
   */
  async applyReportedMany(
    reports: ReadonlyArray<{ deviceId: string; reported: ReportedState; at: Date }>,
  ): Promise<Set<string>> {
    if (reports.length === 0) return new Set();
    const rows = await queryRows<{ id: string }>(
      this.db,
      sql`
        update devices set reported = u.reported, last_seen_at = u.at, updated_at = u.at
        from unnest(${sql.param(reports.map((r) => r.deviceId))}::text[],
                    ${sql.param(reports.map((r) => JSON.stringify(r.reported)))}::text[]::jsonb[],
                    ${sql.param(reports.map((r) => r.at.toISOString()))}::text[]::timestamptz[])
          as u(id, reported, at)
        where devices.id = u.id
        returning devices.id`,
    );
    return new Set(rows.map((r) => r.id));
  }

  /** Refreshes many devices' last_seen_at in one statement (never moving it backwards). */
  async touchMany(seen: ReadonlyMap<string, Date>): Promise<void> {
    if (seen.size === 0) return;
    const ids = [...seen.keys()];
    const ats = [...seen.values()].map((at) => at.toISOString());
    await this.db.execute(sql`
      update devices set last_seen_at = greatest(devices.last_seen_at, u.at)
      from unnest(${sql.param(ids)}::text[], ${sql.param(ats)}::text[]::timestamptz[]) as u(id, at)
      where devices.id = u.id`);
  }

  /**
   * Assigns the next generation and stores the desired state, in one transaction; an invalid desired
   * state throws (PayloadEncodeError) and leaves the generation untouched. Returns the wire bytes.
   */
  async storeDesired(
    deviceId: string,
    desired: Omit<DesiredStateInput, 'v' | 'generation' | 'issuedAt'>,
    at: Date,
  ): Promise<{ state: DesiredState; bytes: Uint8Array }> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx
        .update(devices)
        .set({ desiredGeneration: sql`${devices.desiredGeneration} + 1`, updatedAt: at })
        .where(eq(devices.id, deviceId))
        .returning({ generation: devices.desiredGeneration });
      if (!row) throw new IdentityError('NOT_FOUND', `device ${deviceId} does not exist`);
      const bytes = desiredStatePayload.encode({
        ...desired,
        v: 1,
        generation: row.generation,
        issuedAt: at.getTime(),
      });
      const decoded = desiredStatePayload.decode(bytes);
      if (!decoded.ok)
        throw new IdentityError('INTERNAL', `desired state does not round-trip: ${decoded.error.reason}`);
      await tx.update(devices).set({ desired: decoded.value }).where(eq(devices.id, deviceId));
      return { state: decoded.value, bytes };
    });
  }

  /**
   * `storeDesired` for many devices in one transaction and three statements, whatever their number:
   * a rollout wave of thousands must not cost a transaction per device. Each entry succeeds or fails
   * on its own, as `storeDesired` would: an unknown device is NOT_FOUND, an invalid desired state
   * (PayloadEncodeError) keeps that device's generation untouched; the others are stored.
   */
  async storeDesiredMany(
    entries: readonly DesiredEntry[],
    at: Date,
  ): Promise<Array<{ ok: true; state: DesiredState; bytes: Uint8Array } | { ok: false; error: Error }>> {
    if (entries.length === 0) return [];
    const ids = [...new Set(entries.map((e) => e.deviceId))];
    if (ids.length !== entries.length) throw new Error('storeDesiredMany: one entry per device');
    return this.db.transaction(async (tx) => {
      const rows = await queryRows<{ id: string; generation: number }>(
        tx,
        sql`
        update devices set desired_generation = desired_generation + 1, updated_at = ${at.toISOString()}::timestamptz
        where id = any(${sql.param(ids)}::text[])
        returning id, desired_generation as generation`,
      );
      const generations = new Map(rows.map((r) => [r.id, Number(r.generation)]));
      const results = entries.map(({ deviceId, desired }) => {
        const generation = generations.get(deviceId);
        if (generation === undefined)
          return {
            ok: false as const,
            error: new IdentityError('NOT_FOUND', `device ${deviceId} does not exist`),
          };
        try {
          const bytes = desiredStatePayload.encode({ ...desired, v: 1, generation, issuedAt: at.getTime() });
          const decoded = desiredStatePayload.decode(bytes);
          if (!decoded.ok)
            throw new IdentityError('INTERNAL', `desired state does not round-trip: ${decoded.error.reason}`);
          return { ok: true as const, state: decoded.value, bytes };
        } catch (error) {
          return { ok: false as const, error: error instanceof Error ? error : new Error(String(error)) };
        }
      });
      const stored = results.flatMap((r, i) => (r.ok ? [{ id: entries[i]?.deviceId as string, r }] : []));
      const undo = entries
        .filter((e, i) => !results[i]?.ok && generations.has(e.deviceId))
        .map((e) => e.deviceId);
      if (undo.length > 0)
        await tx.execute(sql`
          update devices set desired_generation = desired_generation - 1
          where id = any(${sql.param(undo)}::text[])`);
      if (stored.length > 0)
        await tx.execute(sql`
          update devices set desired = u.desired
          from unnest(${sql.param(stored.map((s) => s.id))}::text[],
                      ${sql.param(stored.map((s) => JSON.stringify(s.r.state)))}::text[]::jsonb[]) as u(id, desired)
          where devices.id = u.id`);
      return results;
    });
  }

  /** Every stored desired state, to restore retained messages a restarted (in-memory) broker lost. */
  async allDesired(): Promise<Array<{ deviceId: string; desired: unknown }>> {
    const rows = await this.db
      .select({ deviceId: devices.id, desired: devices.desired })
      .from(devices)
      .where(isNotNull(devices.desired));
    return rows;
  }
}
