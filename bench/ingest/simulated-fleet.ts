// The devices of the ingest benches: ids `${prefix}-${i}`, each with a sequence that never repeats
// within a run, sending the same realistic one-minute telemetry window (bench/ingest.ts and
// own-work.ts).
import type { TelemetryWindow } from '@edgeloop/shared';

/** Device `i`'s windows, with a per-device sequence that never repeats within the run. */
export class SimulatedFleet {
  readonly ids: string[];
  private readonly seqs: number[];
  private next = 0;
  constructor(prefix: string, count: number) {
    this.ids = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
    this.seqs = this.ids.map(() => 0);
  }
  window(): { deviceId: string; payload: string } {
    const i = this.next++ % this.ids.length;
    const deviceId = this.ids[i] as string;
    const seq = ++(this.seqs[i] as number);
    const end = Date.now();
    const window: TelemetryWindow = {
      v: 1,
      deviceId,
      seq,
      windowStart: end - 60_000,
      windowEnd: end,
      model: { name: 'digits', version: '1', variant: 'int8', sha256: 'ab'.repeat(32) },
      inferences: 600,
      errors: 1,
      latencyMs: { count: 600, min: 0.4, p50: 1.1, p95: 2.9, p99: 4.2, max: 7.5, mean: 1.3 },
      classCounts: [60, 61, 59, 60, 60, 60, 60, 60, 60, 60],
      meanConfidence: 0.94,
      droppedWindows: 0,
    };
    return { deviceId, payload: JSON.stringify(window) };
  }
}
