// Telemetry sequence numbers must never repeat for a device, even across power loss: the cloud
// deduplicates windows by (device, seq), so a repeated number would silently drop a real window.
// The next number is made durable before the current one is handed out; a crash can skip numbers,
// never reuse them.
import { readFile } from 'node:fs/promises';
import { EdgeloopError } from '@edgeloop/shared';
import { diskError, isNotFound, SerialQueue, writeFileAtomic } from './durable-fs.ts';

export class SequenceCounter {
  #next: number | null = null;
  readonly #queue = new SerialQueue();

  constructor(
    readonly path: string,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Reads the persisted position. The file is written atomically, so damage means outside harm; the
   * counter then jumps to the wall clock in milliseconds, far above any count reachable at one
   * window per 5 s or slower (unless the clock is unset: `recovered` lets the caller report it).
   */
  start(): Promise<{ recovered: boolean }> {
    return this.#queue.run(async () => {
      let text: string;
      try {
        text = await readFile(this.path, 'utf8');
      } catch (err) {
        if (!isNotFound(err)) throw diskError(err, `reading ${this.path}`);
        this.#next = 0;
        return { recovered: false };
      }
      const value = (() => {
        try {
          return (JSON.parse(text) as { next?: unknown }).next;
        } catch {
          return undefined;
        }
      })();
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
        this.#next = this.now();
        return { recovered: true };
      }
      this.#next = value;
      return { recovered: false };
    });
  }

  /** The number `take()` will hand out next (null before `start()`); nothing is reserved. */
  get next(): number | null {
    return this.#next;
  }

  /** The next sequence number, durable before it is returned. */
  take(): Promise<number> {
    return this.#queue.run(async () => {
      if (this.#next === null) throw new EdgeloopError('INTERNAL', 'SequenceCounter used before start()');
      const seq = this.#next;
      await writeFileAtomic(this.path, JSON.stringify({ next: seq + 1 }));
      this.#next = seq + 1;
      return seq;
    });
  }
}
