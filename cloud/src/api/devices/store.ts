// Device queries behind the API: filtered keyset pages, one device, updates, deletion. Creation and
// credentials go through DeviceIdentity (the broker's side), not here.
import { EdgeloopError, modelRefSchema, reportedStateSchema } from '@edgeloop/shared';
import { and, arrayContains, count, eq, gt, type SQL, sql } from 'drizzle-orm';
import { deviceGroups, devices } from '../../db/schema.ts';
import type { ApiDatabase } from '../deps.ts';
import type { DeviceDetailView, DeviceView, ListDevicesFilter } from './schemas.ts';

type DeviceRow = typeof devices.$inferSelect;

/**
 * What a list needs: no desired state, and of the reported state only its `active` model, taken out
 * in SQL — the whole jsonb documents are most of a row's bytes.
 */
const listColumns = {
  id: devices.id,
  deviceClass: devices.deviceClass,
  groupName: devices.groupName,
  tags: devices.tags,
  displayName: devices.displayName,
  connection: devices.connection,
  lastSeenAt: devices.lastSeenAt,
  agentVersion: devices.agentVersion,
  createdAt: devices.createdAt,
  updatedAt: devices.updatedAt,
  active: sql<unknown>`${devices.reported} -> 'active'`,
};
type ListRow = {
  [K in keyof typeof listColumns]: K extends 'active' ? unknown : DeviceRow[Exclude<K, 'active'>];
};

/** A stored reported state is shown only if it still matches the contract; same rule for lists. */
function activeModel(active: unknown) {
  const parsed = modelRefSchema.safeParse(active);
  return parsed.success ? parsed.data : null;
}

export function toDeviceView(row: ListRow): DeviceView {
  return {
    id: row.id,
    deviceClass: row.deviceClass,
    group: row.groupName,
    tags: row.tags,
    displayName: row.displayName,
    status: row.connection,
    lastSeenAt: row.lastSeenAt?.toISOString() ?? null,
    agentVersion: row.agentVersion,
    activeModel: activeModel(row.active),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export function toDeviceDetail(row: DeviceRow): DeviceDetailView {
  const reported = reportedStateSchema.safeParse(row.reported);
  return {
    ...toDeviceView({ ...row, active: reported.success ? reported.data.active : null }),
    bootId: row.bootId,
    reported: row.reported ?? null,
    desiredGeneration: row.desiredGeneration,
  };
}

/** Cursors are opaque to clients (so the ordering can change) but are just the last id today. */
export function encodeCursor(lastId: string): string {
  return Buffer.from(lastId, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(id)) {
    throw new EdgeloopError('VALIDATION_FAILED', 'cursor is not one this API issued', {
      details: [{ in: 'query', path: 'cursor', message: 'invalid cursor' }],
    });
  }
  return id;
}

export class DeviceStore {
  readonly #db: ApiDatabase;
  readonly #now: () => Date;

  constructor(db: ApiDatabase, now: () => Date = () => new Date()) {
    this.#db = db;
    this.#now = now;
  }

  async list(
    filter: ListDevicesFilter,
  ): Promise<{ items: DeviceView[]; total: number; nextCursor: string | null }> {
    const conditions: SQL[] = [];
    if (filter.group) conditions.push(eq(devices.groupName, filter.group));
    if (filter.tag) conditions.push(arrayContains(devices.tags, [filter.tag]));
    if (filter.class) conditions.push(eq(devices.deviceClass, filter.class));
    if (filter.status) conditions.push(eq(devices.connection, filter.status));
    const matching = and(...conditions);
    const page = filter.cursor ? and(matching, gt(devices.id, decodeCursor(filter.cursor))) : matching;
    // One row more than asked tells whether another page exists without a second query.
    const [rows, [totals]] = await Promise.all([
      this.#db
        .select(listColumns)
        .from(devices)
        .where(page)
        .orderBy(devices.id)
        .limit(filter.limit + 1)
        .offset(filter.offset ?? 0),
      this.#db.select({ total: count() }).from(devices).where(matching),
    ]);
    const items = rows.slice(0, filter.limit).map(toDeviceView);
    const last = items[items.length - 1];
    return {
      items,
      total: totals?.total ?? 0,
      nextCursor: rows.length > filter.limit && last ? encodeCursor(last.id) : null,
    };
  }

  async find(id: string): Promise<DeviceRow | undefined> {
    const [row] = await this.#db.select().from(devices).where(eq(devices.id, id)).limit(1);
    return row;
  }

  async get(id: string): Promise<DeviceRow> {
    const row = await this.find(id);
    if (!row) throw new EdgeloopError('NOT_FOUND', `no device with id ${id}`);
    return row;
  }

  async update(
    id: string,
    patch: { group?: string | null; tags?: string[]; displayName?: string },
  ): Promise<DeviceRow> {
    await this.get(id);
    if (patch.group) await this.assertGroupExists(patch.group);
    const [row] = await this.#db
      .update(devices)
      .set({
        ...(patch.group !== undefined ? { groupName: patch.group } : {}),
        ...(patch.tags !== undefined ? { tags: patch.tags } : {}),
        ...(patch.displayName !== undefined ? { displayName: patch.displayName } : {}),
        updatedAt: this.#now(),
      })
      .where(eq(devices.id, id))
      .returning();
    return row as DeviceRow;
  }

  async delete(id: string): Promise<void> {
    const deleted = await this.#db.delete(devices).where(eq(devices.id, id)).returning({ id: devices.id });
    if (deleted.length === 0) throw new EdgeloopError('NOT_FOUND', `no device with id ${id}`);
  }

  async assertGroupExists(name: string): Promise<void> {
    const [row] = await this.#db
      .select({ name: deviceGroups.name })
      .from(deviceGroups)
      .where(eq(deviceGroups.name, name))
      .limit(1);
    if (!row) {
      throw new EdgeloopError('VALIDATION_FAILED', `group ${name} does not exist (create it first)`, {
        details: [{ in: 'json', path: 'group', message: 'no such group' }],
      });
    }
  }
}
