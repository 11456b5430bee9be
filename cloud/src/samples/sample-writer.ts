// Writing one batch of samples. Deduplication is the database's job: the unique index on
// (device_id, sample_id) plus ON CONFLICT DO NOTHING makes a redelivered batch a no-op, and the
// returned ids tell stored from duplicate.
import type { Db } from '../db/index.ts';
import { fleetSamples } from '../db/schema.ts';
import type { FleetSampleRow } from './sample-row.ts';

/** Inserts the rows that are new; returns how many were. */
export async function insertSamples(db: Db, rows: FleetSampleRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const inserted = await db
    .insert(fleetSamples)
    .values(rows)
    .onConflictDoNothing({ target: [fleetSamples.deviceId, fleetSamples.sampleId] })
    .returning({ id: fleetSamples.id });
  return inserted.length;
}
