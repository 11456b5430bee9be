// Device groups (named sets that rollouts target) and tags (free labels on devices).
import { EdgeloopError } from '@edgeloop/shared';
import { count, eq, sql } from 'drizzle-orm';
import { deviceGroups, devices } from '../../db/schema.ts';
import type { ApiDatabase } from '../deps.ts';

export interface GroupView {
  name: string;
  description: string;
  deviceCount: number;
  createdAt: string;
}

export class GroupStore {
  readonly #db: ApiDatabase;

  constructor(db: ApiDatabase) {
    this.#db = db;
  }

  async list(): Promise<GroupView[]> {
    const rows = await this.#db
      .select({
        name: deviceGroups.name,
        description: deviceGroups.description,
        createdAt: deviceGroups.createdAt,
        deviceCount: count(devices.id),
      })
      .from(deviceGroups)
      .leftJoin(devices, eq(devices.groupName, deviceGroups.name))
      .groupBy(deviceGroups.name)
      .orderBy(deviceGroups.name);
    return rows.map((r) => ({ ...r, createdAt: r.createdAt.toISOString() }));
  }

  async get(name: string): Promise<GroupView> {
    const found = (await this.list()).find((g) => g.name === name);
    if (!found) throw new EdgeloopError('NOT_FOUND', `no group named ${name}`);
    return found;
  }

  async create(input: { name: string; description?: string }): Promise<GroupView> {
    const inserted = await this.#db
      .insert(deviceGroups)
      .values({ name: input.name, description: input.description ?? '' })
      .onConflictDoNothing()
      .returning({ name: deviceGroups.name });
    if (inserted.length === 0) throw new EdgeloopError('CONFLICT', `group ${input.name} already exists`);
    return this.get(input.name);
  }

  async update(name: string, patch: { description: string }): Promise<GroupView> {
    const updated = await this.#db
      .update(deviceGroups)
      .set({ description: patch.description })
      .where(eq(deviceGroups.name, name))
      .returning({ name: deviceGroups.name });
    if (updated.length === 0) throw new EdgeloopError('NOT_FOUND', `no group named ${name}`);
    return this.get(name);
  }

  /** Members stay, ungrouped (the foreign key sets their group to null). */
  async delete(name: string): Promise<void> {
    const deleted = await this.#db
      .delete(deviceGroups)
      .where(eq(deviceGroups.name, name))
      .returning({ name: deviceGroups.name });
    if (deleted.length === 0) throw new EdgeloopError('NOT_FOUND', `no group named ${name}`);
  }

  async tags(): Promise<{ tag: string; deviceCount: number }[]> {
    const tag = sql<string>`unnest(${devices.tags})`;
    const rows = await this.#db
      .select({ tag, deviceCount: sql<number>`count(*)::int` })
      .from(devices)
      .groupBy(tag)
      .orderBy(tag);
    return rows;
  }
}
