// The reported-state writer's batching, coalescing, backpressure and retries, against a store that
// records its calls (the SQL itself runs in bridge.test.ts on PGlite and PostgreSQL).
import type { ReportedState } from '@edgeloop/shared';
import { describe, expect, it } from 'vitest';
import { silentLogger } from './observability.ts';
import { type QueuedReport, ReportedStateWriter } from './reported-writer.ts';

const reported = (generation: number) => ({ generation }) as unknown as ReportedState;
const report = (deviceId: string, generation: number): QueuedReport => ({
  deviceId,
  reported: reported(generation),
  at: new Date(0),
  topic: `el/v1/d/${deviceId}/reported`,
  raw: new Uint8Array(),
});

function harness(options: { known?: Set<string>; failFirst?: number; maxPending?: number } = {}) {
  const batches: Array<Array<[string, number]>> = [];
  const written: Array<[string, number]> = [];
  const unknown: string[] = [];
  let failures = options.failFirst ?? 0;
  let release: (() => void) | undefined;
  let gate: Promise<void> | undefined;
  const writer = new ReportedStateWriter({
    store: {
      applyReportedMany: async (reports) => {
        batches.push(reports.map((r) => [r.deviceId, (r.reported as { generation: number }).generation]));
        await gate;
        if (failures-- > 0) throw new Error('database unavailable');
        return new Set(reports.map((r) => r.deviceId).filter((id) => options.known?.has(id) ?? true));
      },
    },
    onWritten: (r) => written.push([r.deviceId, (r.reported as { generation: number }).generation]),
    onUnknown: (r) => unknown.push(r.deviceId),
    logger: silentLogger,
    retry: { initialMs: 1, maxMs: 4 },
    ...(options.maxPending ? { maxPending: options.maxPending } : {}),
  });
  const hold = () => {
    gate = new Promise((resolve) => {
      release = resolve;
    });
  };
  return { writer, batches, written, unknown, hold, release: () => release?.() };
}

describe('ReportedStateWriter', () => {
  it('writes what arrives in one tick as one batch, the latest state per device', async () => {
    const h = harness();
    h.writer.offer(report('cam-1', 1));
    h.writer.offer(report('cam-2', 1));
    h.writer.offer(report('cam-1', 2));
    await h.writer.drain();
    expect(h.batches).toEqual([
      [
        ['cam-2', 1],
        ['cam-1', 2],
      ],
    ]);
    expect(h.written).toEqual([
      ['cam-2', 1],
      ['cam-1', 2],
    ]);
  });

  it('batches what arrives during a write into the next one', async () => {
    const h = harness();
    h.hold();
    h.writer.offer(report('cam-1', 1));
    await new Promise((resolve) => setImmediate(resolve));
    for (let i = 0; i < 50; i++) h.writer.offer(report(`cam-${i}`, 2));
    h.release();
    await h.writer.drain();
    expect(h.batches.map((b) => b.length)).toEqual([1, 50]);
    expect(h.written.filter(([id]) => id === 'cam-1')).toEqual([
      ['cam-1', 1],
      ['cam-1', 2],
    ]);
  });

  it('reports devices the table does not have as unknown', async () => {
    const h = harness({ known: new Set(['cam-1']) });
    h.writer.offer(report('cam-1', 1));
    h.writer.offer(report('ghost', 1));
    await h.writer.drain();
    expect(h.written).toEqual([['cam-1', 1]]);
    expect(h.unknown).toEqual(['ghost']);
  });

  it('retries a failed write, keeping a newer state that arrived meanwhile', async () => {
    const h = harness({ failFirst: 2 });
    h.hold();
    h.writer.offer(report('cam-1', 1));
    h.writer.offer(report('cam-2', 1));
    await new Promise((resolve) => setImmediate(resolve));
    h.writer.offer(report('cam-2', 2)); // arrives while the first (failing) write is in flight
    h.release();
    await h.writer.drain();
    expect(h.batches.length).toBe(3);
    expect(h.written.sort()).toEqual([
      ['cam-1', 1],
      ['cam-2', 2],
    ]);
  });

  it('withholds room (acknowledgements) while too many devices are queued, until written', async () => {
    const h = harness({ maxPending: 3 });
    h.hold();
    h.writer.offer(report('cam-0', 1));
    await new Promise((resolve) => setImmediate(resolve)); // cam-0 is being written
    for (let i = 1; i <= 3; i++) h.writer.offer(report(`cam-${i}`, 1));
    const room = h.writer.room();
    expect(room).toBeInstanceOf(Promise);
    let roomy = false;
    void room?.then(() => {
      roomy = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(roomy).toBe(false);
    h.release();
    await h.writer.drain();
    expect(roomy).toBe(true);
    expect(h.writer.room()).toBeUndefined();
  });
});
