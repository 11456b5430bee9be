// Validated sample batches waiting for their INSERT, written several batches per statement by one
// loop, off the message path.
//
// mqtt.js hands the cloud one packet at a time, the next only once the last one's handler settled:
// a batch written before the next packet bounds everything the cloud receives (reported states,
// chunk requests, telemetry) to one INSERT per sample batch. A rollout to 1,000 simulated devices
// sending samples held their `active` reports behind ~5 ms writes for minutes. So a batch is
// acknowledged once queued here; more than `maxPending` queued withholds acknowledgements (an ack
// hold on the router) until the loop catches up, as telemetry ingestion does.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../mqtt/observability.ts';

export interface QueuedSampleBatch<Row> {
  deviceId: string;
  rows: Row[];
}

export interface SampleWriteQueueOptions<Row> {
  /** Writes rows (ON CONFLICT DO NOTHING); resolves with how many were new. */
  insert: (rows: Row[]) => Promise<number>;
  /** A failure no retry fixes (the rows themselves), as opposed to the database being away. */
  isPoison: (err: unknown) => boolean;
  /** These batches are in the table: `stored` of their rows were new, the rest duplicates. */
  onWritten: (batches: QueuedSampleBatch<Row>[], stored: number) => void;
  /** The database refused this batch's rows: dead-letter it. */
  onPoison: (batch: QueuedSampleBatch<Row>, err: unknown) => void;
  /** Stopping with the database away: these batches were acknowledged and are not written. */
  onLost: (batch: QueuedSampleBatch<Row>, err: unknown) => void;
  onWriteError: () => void;
  logger: Logger;
  /** Batches queued before acknowledgements are withheld (default 256). */
  maxPending?: number;
  /** Batches per INSERT (default 64: 32 samples each at most). */
  batchesPerWrite?: number;
  retry?: { initialMs?: number; maxMs?: number };
}

export class SampleWriteQueue<Row> {
  #pending: QueuedSampleBatch<Row>[] = [];
  #loop: Promise<void> | undefined;
  #roomWaiters: Array<() => void> = [];
  #stopDeadline = Number.POSITIVE_INFINITY;

  constructor(private readonly options: SampleWriteQueueOptions<Row>) {}

  get pending(): number {
    return this.#pending.length;
  }

  offer(batch: QueuedSampleBatch<Row>): void {
    this.#pending.push(batch);
    this.#loop ??= this.#run();
  }

  /** For the router's ack hold: undefined while there is room, else settles when there is. */
  room(): Promise<void> | undefined {
    if (this.#pending.length < (this.options.maxPending ?? 256)) return undefined;
    return new Promise((resolve) => this.#roomWaiters.push(resolve));
  }

  /** Writes what is queued; a database still away at `deadline` loses the rest (counted). */
  async drain(deadline: number): Promise<void> {
    this.#stopDeadline = deadline;
    await this.#loop;
  }

  async #run(): Promise<void> {
    await Promise.resolve(); // the batches of this tick join the first write
    const { initialMs = 100, maxMs = 5_000 } = this.options.retry ?? {};
    let delay = initialMs;
    while (this.#pending.length > 0) {
      const group = this.#pending.slice(0, this.options.batchesPerWrite ?? 64);
      try {
        await this.#write(group);
        this.#pending.splice(0, group.length);
        delay = initialMs;
      } catch (err) {
        this.options.onWriteError();
        if (Date.now() + delay > this.#stopDeadline) {
          for (const batch of this.#pending.splice(0)) this.options.onLost(batch, err);
          break;
        }
        this.options.logger.warn(
          { event: 'samples.db_failed', batches: group.length, retryInMs: delay, err: String(err) },
          'sample ingestion: database write failed; retrying (acknowledgements withheld once the queue is full)',
        );
        await sleep(delay);
        delay = Math.min(delay * 2, maxMs);
      }
      this.#wake();
    }
    this.#loop = undefined;
    this.#wake();
  }

  /** One INSERT for the group; if the rows are refused, each batch on its own to find the bad ones. */
  async #write(group: QueuedSampleBatch<Row>[]): Promise<void> {
    try {
      this.options.onWritten(group, await this.options.insert(group.flatMap((b) => b.rows)));
      return;
    } catch (err) {
      if (!this.options.isPoison(err)) throw err;
      if (group.length === 1) {
        this.options.onPoison(group[0] as QueuedSampleBatch<Row>, err);
        return;
      }
    }
    for (const batch of group) await this.#write([batch]);
  }

  #wake(): void {
    if (this.#pending.length >= (this.options.maxPending ?? 256)) return;
    for (const wake of this.#roomWaiters.splice(0)) wake();
  }
}
