// Store-and-forward queue for telemetry windows: every window is appended here and a sender peeks,
// publishes and acks, so an offline device keeps its windows across restarts up to a byte bound.
//
// On disk: one file per window (`<id>.win`: CRC-32 line, then the JSON), written atomically, plus
// `queue-state.json`. When the bound is reached the OLDEST windows are dropped. Drops are counted
// exactly, also across crashes, and stamped into the next appended window's `droppedWindows` (a
// dropped window's own `droppedWindows` is carried over, so no loss goes unreported). Entries that
// fail their CRC or schema are deleted and counted the same way; they never crash the agent.
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32, EdgeloopError, type TelemetryWindow, telemetryWindowSchema } from '@edgeloop/shared';
import { z } from 'zod';
import {
  diskError,
  isNotFound,
  isTempFile,
  removeStaleTempFiles,
  SerialQueue,
  writeFileAtomic,
} from './durable-fs.ts';

export interface QueuedWindow {
  id: number;
  window: TelemetryWindow;
}

export interface TelemetryQueueStats {
  entries: number;
  bytes: number;
  /** Drops not yet reported in a window. */
  pendingDrops: number;
  droppedTotal: number;
  corruptedTotal: number;
}

const stateSchema = z.object({
  v: z.literal(1),
  pendingDrops: z.number().int().nonnegative(),
  /**
   * The id the pending drops will be stamped into (the next append's). An entry with this id or
   * higher found at start means the stamp was written but the state not yet cleared.
   */
  stampTargetId: z.number().int(),
  /** Every id up to this one was dropped; files still present were orphaned by a crash. */
  droppedThroughId: z.number().int(),
  droppedTotal: z.number().int().nonnegative(),
  corruptedTotal: z.number().int().nonnegative(),
});
type QueueState = z.infer<typeof stateSchema>;

const ENTRY = /^(\d{16})\.win$/;
const fileName = (id: number) => `${String(id).padStart(16, '0')}.win`;

export function encodeEntry(window: TelemetryWindow): Buffer {
  const json = Buffer.from(JSON.stringify(window), 'utf8');
  const crc = crc32(json).toString(16).padStart(8, '0');
  return Buffer.concat([Buffer.from(`${crc}\n`, 'ascii'), json]);
}

/** The window in an entry file, or null when the file is torn or damaged. */
export function decodeEntry(bytes: Uint8Array): TelemetryWindow | null {
  if (bytes.length < 10 || bytes[8] !== 0x0a) return null;
  const crc = Number.parseInt(Buffer.from(bytes.subarray(0, 8)).toString('ascii'), 16);
  const json = bytes.subarray(9);
  if (!Number.isFinite(crc) || crc !== crc32(json)) return null;
  try {
    const parsed = telemetryWindowSchema.safeParse(JSON.parse(Buffer.from(json).toString('utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export class TelemetryQueue {
  readonly #statePath: string;
  readonly #queue = new SerialQueue();
  /** Entries oldest first. */
  #entries: { id: number; bytes: number }[] = [];
  #bytes = 0;
  #nextId = 0;
  #state: QueueState = {
    v: 1,
    pendingDrops: 0,
    stampTargetId: 0,
    droppedThroughId: -1,
    droppedTotal: 0,
    corruptedTotal: 0,
  };

  constructor(
    readonly dir: string,
    readonly options: { maxBytes: number },
  ) {
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 1) {
      throw new EdgeloopError(
        'VALIDATION_FAILED',
        `queue maxBytes must be a positive integer, got ${options.maxBytes}`,
      );
    }
    this.#statePath = join(dir, 'queue-state.json');
  }

  start(): Promise<TelemetryQueueStats> {
    return this.#queue.run(async () => {
      try {
        await removeStaleTempFiles(this.dir);
        this.#state = await this.#readState();
        const ids = (await readdir(this.dir))
          .filter((name) => !isTempFile(name))
          .map((name) => ENTRY.exec(name)?.[1])
          .filter((id): id is string => id !== undefined)
          .map(Number)
          .sort((a, b) => a - b);
        this.#entries = [];
        this.#bytes = 0;
        for (const id of ids) {
          if (id <= this.#state.droppedThroughId) {
            await rm(join(this.dir, fileName(id)), { force: true });
            continue;
          }
          const { size } = await stat(join(this.dir, fileName(id)));
          this.#entries.push({ id, bytes: size });
          this.#bytes += size;
        }
        const newest = this.#entries.at(-1)?.id ?? -1;
        this.#nextId = Math.max(newest + 1, this.#state.droppedThroughId + 1, this.#state.stampTargetId);
        // Crash between writing a stamped window and clearing the pending count: already reported.
        if (this.#state.pendingDrops > 0 && newest >= this.#state.stampTargetId) {
          await this.#writeState({ ...this.#state, pendingDrops: 0 });
        }
        // A bound lowered by a new profile applies at once.
        while (this.#bytes > this.options.maxBytes && this.#entries.length > 0) await this.#dropOldest();
      } catch (err) {
        throw diskError(err, 'opening the telemetry queue');
      }
      return this.stats();
    });
  }

  async #readState(): Promise<QueueState> {
    try {
      const parsed = stateSchema.safeParse(JSON.parse(await readFile(this.#statePath, 'utf8')));
      if (parsed.success) return parsed.data;
    } catch (err) {
      if (!isNotFound(err) && !(err instanceof SyntaxError)) throw err;
    }
    return this.#state; // absent or damaged: counters restart, the windows themselves are intact
  }

  async #writeState(next: QueueState): Promise<void> {
    await writeFileAtomic(this.#statePath, JSON.stringify(next));
    this.#state = next;
  }

  stats(): TelemetryQueueStats {
    return {
      entries: this.#entries.length,
      bytes: this.#bytes,
      pendingDrops: this.#state.pendingDrops,
      droppedTotal: this.#state.droppedTotal,
      corruptedTotal: this.#state.corruptedTotal,
    };
  }

  /**
   * Appends a window, first dropping the oldest entries while it would not fit. Pending drops are
   * added to its `droppedWindows`. Throws PAYLOAD_TOO_LARGE when the window alone exceeds the bound.
   */
  append(window: TelemetryWindow): Promise<{ id: number; droppedWindows: number }> {
    return this.#queue.run(async () => {
      const stamp = () => ({ ...window, droppedWindows: window.droppedWindows + this.#state.pendingDrops });
      if (encodeEntry(stamp()).length > this.options.maxBytes) {
        throw new EdgeloopError(
          'PAYLOAD_TOO_LARGE',
          `telemetry window of ${encodeEntry(stamp()).length} bytes exceeds the queue bound of ${this.options.maxBytes}`,
        );
      }
      // Each drop raises the stamp (its digits may grow the entry), so re-encode until it fits.
      let entry = encodeEntry(stamp());
      while (this.#bytes + entry.length > this.options.maxBytes && this.#entries.length > 0) {
        await this.#dropOldest();
        entry = encodeEntry(stamp());
      }
      const stamped = stamp();
      const id = this.#nextId++;
      try {
        await writeFileAtomic(join(this.dir, fileName(id)), entry);
      } catch (err) {
        this.#nextId--;
        throw err;
      }
      this.#entries.push({ id, bytes: entry.length });
      this.#bytes += entry.length;
      if (this.#state.pendingDrops > 0) {
        await this.#writeState({ ...this.#state, pendingDrops: 0 });
      }
      return { id, droppedWindows: stamped.droppedWindows };
    });
  }

  async #dropOldest(): Promise<void> {
    const victim = this.#entries[0];
    if (!victim) return;
    const path = join(this.dir, fileName(victim.id));
    let carried = 0;
    try {
      carried = decodeEntry(await readFile(path))?.droppedWindows ?? 0;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    // State first (idempotent: ids up to droppedThroughId are gone), then the file.
    await this.#writeState({
      ...this.#state,
      pendingDrops: this.#state.pendingDrops + 1 + carried,
      stampTargetId: this.#nextId,
      droppedThroughId: victim.id,
      droppedTotal: this.#state.droppedTotal + 1,
    });
    await rm(path, { force: true });
    this.#entries.shift();
    this.#bytes -= victim.bytes;
  }

  /** Up to `max` of the oldest windows, without removing them. Damaged entries are removed and counted. */
  peek(max = 1): Promise<QueuedWindow[]> {
    return this.#queue.run(async () => {
      const out: QueuedWindow[] = [];
      for (let i = 0; i < this.#entries.length && out.length < max; ) {
        const entry = this.#entries[i] as { id: number; bytes: number };
        const path = join(this.dir, fileName(entry.id));
        let window: TelemetryWindow | null = null;
        try {
          window = decodeEntry(await readFile(path));
        } catch (err) {
          if (!isNotFound(err)) throw diskError(err, `reading ${path}`);
        }
        if (window) {
          out.push({ id: entry.id, window });
          i++;
          continue;
        }
        await this.#writeState({
          ...this.#state,
          pendingDrops: this.#state.pendingDrops + 1,
          stampTargetId: this.#nextId,
          corruptedTotal: this.#state.corruptedTotal + 1,
        });
        await rm(path, { force: true });
        this.#entries.splice(i, 1);
        this.#bytes -= entry.bytes;
      }
      return out;
    });
  }

  /** Removes delivered windows. Unknown ids (already dropped or acked) are ignored. */
  ack(ids: number | readonly number[]): Promise<void> {
    const wanted = new Set(typeof ids === 'number' ? [ids] : ids);
    return this.#queue.run(async () => {
      const kept: { id: number; bytes: number }[] = [];
      for (const entry of this.#entries) {
        if (!wanted.has(entry.id)) {
          kept.push(entry);
          continue;
        }
        try {
          await rm(join(this.dir, fileName(entry.id)), { force: true });
        } catch (err) {
          throw diskError(err, 'acknowledging a telemetry window');
        }
        this.#bytes -= entry.bytes;
      }
      this.#entries = kept;
    });
  }
}
