// Column helpers shared by the schema's feature files.
import { bigint, customType, timestamp } from 'drizzle-orm/pg-core';

export const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType: () => 'bytea',
});

export const createdAt = () =>
  timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow();
export const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
export const count = (name: string) => bigint(name, { mode: 'number' });
/** Counts per bucket or class index; merged element-wise by `edgeloop_array_add` (migration 0002). */
export const counts = (name: string) => count(name).array();
