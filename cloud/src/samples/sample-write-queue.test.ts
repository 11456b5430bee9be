// The sample write queue's grouping, poison isolation, retries and loss accounting, against an insert
// that records its calls (the SQL runs in samples-mqtt.test.ts on PGlite and PostgreSQL).
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../mqtt/observability.ts';
import { type QueuedSampleBatch, SampleWriteQueue } from './sample-write-queue.ts';

class PoisonError extends Error {}

function harness(options: { failFirst?: number; poison?: string; maxPending?: number } = {}) {
  const inserts: string[][] = [];
  const written: Array<{ devices: string[]; stored: number }> = [];
  const poisoned: string[] = [];
  const lost: string[] = [];
  let failures = options.failFirst ?? 0;
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  const queue = new SampleWriteQueue<string>({
    insert: async (rows) => {
      inserts.push(rows);
      await gate;
      if (failures-- > 0) throw new Error('connection refused');
      if (options.poison && rows.includes(options.poison)) throw new PoisonError('invalid input');
      return rows.filter((r) => !r.startsWith('dup')).length;
    },
    isPoison: (err) => err instanceof PoisonError,
    onWritten: (batches, stored) => written.push({ devices: batches.map((b) => b.deviceId), stored }),
    onPoison: (batch) => poisoned.push(batch.deviceId),
    onLost: (batch) => lost.push(batch.deviceId),
    onWriteError: () => undefined,
    logger: silentLogger,
    retry: { initialMs: 1, maxMs: 2 },
    ...(options.maxPending ? { maxPending: options.maxPending } : {}),
  });
  const hold = () => {
    gate = new Promise((resolve) => {
      open = resolve;
    });
  };
  const release = () => {
    gate = undefined;
    open?.();
  };
  return { queue, inserts, written, poisoned, lost, hold, release };
}

const batch = (deviceId: string, ...rows: string[]): QueuedSampleBatch<string> => ({ deviceId, rows });

describe('SampleWriteQueue', () => {
  it('writes the batches of one tick in one insert and counts new rows', async () => {
    const h = harness();
    h.queue.offer(batch('cam-1', 'a', 'dup-b'));
    h.queue.offer(batch('cam-2', 'c'));
    await h.queue.drain(Number.POSITIVE_INFINITY);
    expect(h.inserts).toEqual([['a', 'dup-b', 'c']]);
    expect(h.written).toEqual([{ devices: ['cam-1', 'cam-2'], stored: 2 }]);
  });

  it('isolates a batch the database refuses and writes the others', async () => {
    const h = harness({ poison: 'bad' });
    h.queue.offer(batch('cam-1', 'a'));
    h.queue.offer(batch('cam-2', 'bad'));
    h.queue.offer(batch('cam-3', 'c'));
    await h.queue.drain(Number.POSITIVE_INFINITY);
    expect(h.poisoned).toEqual(['cam-2']);
    expect(h.written.flatMap((w) => w.devices)).toEqual(['cam-1', 'cam-3']);
  });

  it('retries while the database is away, then writes everything', async () => {
    const h = harness({ failFirst: 3 });
    h.queue.offer(batch('cam-1', 'a'));
    await h.queue.drain(Number.POSITIVE_INFINITY);
    expect(h.inserts.length).toBe(4);
    expect(h.written).toEqual([{ devices: ['cam-1'], stored: 1 }]);
    expect(h.lost).toEqual([]);
  });

  it('counts what is still queued at the stop deadline as lost', async () => {
    const h = harness({ failFirst: 1_000 });
    h.queue.offer(batch('cam-1', 'a'));
    h.queue.offer(batch('cam-2', 'b'));
    await h.queue.drain(Date.now() + 20);
    expect(h.lost.sort()).toEqual(['cam-1', 'cam-2']);
    expect(h.queue.pending).toBe(0);
  });

  it('withholds room while too many batches are queued', async () => {
    const h = harness({ maxPending: 2 });
    h.hold();
    h.queue.offer(batch('cam-1', 'a'));
    h.queue.offer(batch('cam-2', 'b'));
    const room = h.queue.room();
    expect(room).toBeInstanceOf(Promise);
    h.release();
    await room;
    await h.queue.drain(Number.POSITIVE_INFINITY);
    expect(h.queue.room()).toBeUndefined();
  });
});
