import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EdgeloopError, type TelemetryWindow, telemetryWindowSchema } from '@edgeloop/shared';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeEntry, TelemetryQueue } from './telemetry-queue.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'el-queue-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Windows of identical encoded size for seq 100..999 (same digit count). */
function window(seq: number, classCounts: number[] = [1, 2, 3]): TelemetryWindow {
  return telemetryWindowSchema.parse({
    v: 1,
    deviceId: 'cam-1',
    seq,
    windowStart: 1_000,
    windowEnd: 2_000,
    model: null,
    inferences: 6,
    errors: 0,
    latencyMs: null,
    classCounts,
    meanConfidence: 0.5,
    droppedWindows: 0,
  });
}

const ENTRY = encodeEntry(window(100)).length;

async function open(maxBytes = 64 * 1024): Promise<TelemetryQueue> {
  const q = new TelemetryQueue(dir, { maxBytes });
  await q.start();
  return q;
}

describe('TelemetryQueue', () => {
  it('peeks in order without removing and removes exactly what is acked', async () => {
    const q = await open();
    const ids = [];
    for (let s = 100; s < 105; s++) ids.push((await q.append(window(s))).id);
    expect((await q.peek(3)).map((e) => e.window.seq)).toEqual([100, 101, 102]);
    expect((await q.peek(3)).map((e) => e.window.seq)).toEqual([100, 101, 102]);
    await q.ack([ids[0] as number, ids[1] as number]);
    await q.ack(9_999); // unknown: ignored
    expect((await q.peek(10)).map((e) => e.window.seq)).toEqual([102, 103, 104]);
    expect(q.stats()).toMatchObject({ entries: 3, bytes: 3 * ENTRY });
  });

  it('keeps every window across a restart, in order, and continues the ids', async () => {
    const first = await open();
    const before = [];
    for (let s = 100; s < 104; s++) before.push((await first.append(window(s))).id);
    const second = await open();
    expect((await second.peek(10)).map((e) => [e.id, e.window.seq])).toEqual(
      before.map((id, i) => [id, 100 + i]),
    );
    const { id } = await second.append(window(104));
    expect(id).toBeGreaterThan(Math.max(...before));
  });

  it('drops the oldest when full and reports every drop exactly once', async () => {
    const q = await open(3 * ENTRY + 10);
    const stamps: number[] = [];
    for (let s = 100; s < 107; s++) stamps.push((await q.append(window(s))).droppedWindows);
    const left = await q.peek(10);
    expect(left.map((e) => e.window.seq)).toEqual([104, 105, 106]);
    expect(q.stats()).toMatchObject({ entries: 3, droppedTotal: 4, pendingDrops: 0 });
    expect(q.stats().bytes).toBeLessThanOrEqual(3 * ENTRY + 10);
    // Window 103 carried one drop when it was itself dropped: that one moves on to 106.
    expect(left.map((e) => e.window.droppedWindows)).toEqual([1, 1, 2]);
    expect(stamps).toEqual([0, 0, 0, 1, 1, 1, 2]);
  });

  it('applies a lowered bound at restart by dropping the oldest', async () => {
    const q = await open();
    for (let s = 100; s < 110; s++) await q.append(window(s));
    const smaller = await open(4 * ENTRY);
    expect(smaller.stats()).toMatchObject({ entries: 4, pendingDrops: 6, droppedTotal: 6 });
    expect((await smaller.peek(10)).map((e) => e.window.seq)).toEqual([106, 107, 108, 109]);
  });

  it('refuses a window larger than the whole bound', async () => {
    const q = await open(1024);
    const failure = await q.append(window(100, new Array(600).fill(7))).catch((err: unknown) => err);
    expect((failure as EdgeloopError).code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('ignores a torn write left by a crash and skips damaged entries, counting them', async () => {
    const q = await open();
    for (let s = 100; s < 104; s++) await q.append(window(s));
    const names = (await readdir(dir)).filter((n) => n.endsWith('.win')).sort();
    // A crash mid-write leaves only a temp file; a damaged disk can also truncate a real entry.
    await writeFile(join(dir, `0000000000000004.win.tmp-deadbeef`), encodeEntry(window(104)).subarray(0, 20));
    const victim = join(dir, names[1] as string);
    await writeFile(victim, (await readFile(victim)).subarray(0, ENTRY - 7));
    const reopened = await open();
    expect((await reopened.peek(10)).map((e) => e.window.seq)).toEqual([100, 102, 103]);
    expect(reopened.stats()).toMatchObject({ corruptedTotal: 1, pendingDrops: 1, entries: 3 });
    expect((await readdir(dir)).some((n) => n.includes('.tmp-'))).toBe(false);
    expect((await reopened.append(window(105))).droppedWindows).toBe(1);
  });

  it('finishes a drop interrupted between its state write and the unlink', async () => {
    const q = await open();
    const ids = [];
    for (let s = 100; s < 103; s++) ids.push((await q.append(window(s))).id);
    // What a crash leaves after #dropOldest wrote its state (inside the append of id 3), before the unlink.
    await writeFile(
      join(dir, 'queue-state.json'),
      JSON.stringify({
        v: 1,
        pendingDrops: 1,
        stampTargetId: 3,
        droppedThroughId: ids[0],
        droppedTotal: 1,
        corruptedTotal: 0,
      }),
    );
    const reopened = await open();
    expect((await reopened.peek(10)).map((e) => e.window.seq)).toEqual([101, 102]);
    expect(reopened.stats()).toMatchObject({ pendingDrops: 1, droppedTotal: 1 });
    expect(await reopened.append(window(103))).toEqual({ id: 3, droppedWindows: 1 });
  });

  it('does not report drops twice after a crash between the stamped append and the state update', async () => {
    const q = await open(3 * ENTRY + 10);
    for (let s = 100; s < 104; s++) await q.append(window(s)); // 103 carries 1 drop
    // Roll the state back to just before the append cleared the pending count.
    const state = JSON.parse(await readFile(join(dir, 'queue-state.json'), 'utf8'));
    await writeFile(join(dir, 'queue-state.json'), JSON.stringify({ ...state, pendingDrops: 1 }));
    const reopened = await open(3 * ENTRY + 10);
    expect(reopened.stats().pendingDrops).toBe(0);
  });

  it('accounts for every window under any mix of appends, acks and restarts (property)', async () => {
    const op = fc.oneof(
      fc.constant({ kind: 'append' as const }),
      fc.record({ kind: fc.constant('deliver' as const), n: fc.integer({ min: 1, max: 3 }) }),
      fc.constant({ kind: 'restart' as const }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
        await rm(dir, { recursive: true, force: true });
        dir = await mkdtemp(join(tmpdir(), 'el-queue-'));
        const bound = 4 * ENTRY + 5;
        let q = await open(bound);
        let appended = 0;
        const delivered: TelemetryWindow[] = [];
        for (const o of ops) {
          if (o.kind === 'append') await q.append(window(100 + appended++));
          else if (o.kind === 'restart') q = await open(bound);
          else {
            const batch = await q.peek(o.n);
            delivered.push(...batch.map((e) => e.window));
            await q.ack(batch.map((e) => e.id));
          }
          expect(q.stats().bytes).toBeLessThanOrEqual(bound);
        }
        const queued = (await q.peek(100)).map((e) => e.window);
        const stats = q.stats();
        expect(delivered.length + queued.length + stats.droppedTotal).toBe(appended);
        const reported = [...delivered, ...queued].reduce((n, w) => n + w.droppedWindows, 0);
        expect(reported + stats.pendingDrops).toBe(stats.droppedTotal);
        // Order is preserved: delivered then queued seqs increase.
        const seqs = [...delivered, ...queued].map((w) => w.seq);
        expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      }),
      { numRuns: 20 },
    );
  });
});
