// Writes devices' reported states to the `devices` table in batches, off the message path.
//
// mqtt.js hands the cloud one packet at a time: the next is read only once the last one's handler
// has settled. A reported state written with an UPDATE of its own before the next packet (as it
// was) bounds everything the cloud receives to one database round trip per reported message: a
// rollout to 1,000 devices, each reporting its download progress every second, queued chunk
// requests and telemetry behind those writes for tens of seconds. So:
//
// - A reported state is acknowledged once it is queued here. Only the latest per device is kept (it
//   is a state, not an event), and every queued state is written by one UPDATE per batch.
// - Listeners hear of a reported state (`onWritten`) after it is in the database, since the rollout
//   scheduler reads it from there.
// - More than `maxPending` devices queued, or the database failing, withholds acknowledgements (an
//   ack hold on the router) until there is room; failed writes are retried with backoff.
// - A crash loses at most the queued states, and not for good: `reported` is retained at the
//   broker, and the bridge's subscription (not shared) gets every retained state again on start.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ReportedState } from '@edgeloop/shared';
import type { DeviceStateStore } from './device-state.ts';
import type { Logger } from './observability.ts';

export interface QueuedReport {
  deviceId: string;
  reported: ReportedState;
  at: Date;
  topic: string;
  raw: Uint8Array;
}

export interface ReportedWriterOptions {
  store: Pick<DeviceStateStore, 'applyReportedMany'>;
  /** After the batch holding it was written. */
  onWritten: (report: QueuedReport) => void;
  /** The device is not in the table (never provisioned, or deleted meanwhile). */
  onUnknown: (report: QueuedReport) => void;
  logger: Logger;
  /** Devices queued before acknowledgements are withheld (default 5,000). */
  maxPending?: number;
  /** Backoff between failed writes (defaults 100 ms doubling to 5 s). */
  retry?: { initialMs?: number; maxMs?: number };
}

export class ReportedStateWriter {
  #pending = new Map<string, QueuedReport>();
  #flushing: Promise<void> | undefined;
  #roomWaiters: Array<() => void> = [];
  #failures = 0;
  readonly #maxPending: number;

  constructor(private readonly options: ReportedWriterOptions) {
    this.#maxPending = options.maxPending ?? 5_000;
  }

  /** Devices whose latest reported state is queued. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Queues `report`, replacing an older one of the same device still queued. */
  offer(report: QueuedReport): void {
    this.#pending.delete(report.deviceId); // re-inserted last: batches keep arrival order
    this.#pending.set(report.deviceId, report);
    this.#flushing ??= this.#flush();
  }

  /** For the router's ack hold: undefined while there is room, else settles when there is. */
  room(): Promise<void> | undefined {
    if (this.#pending.size < this.#maxPending) return undefined;
    return new Promise((resolve) => this.#roomWaiters.push(resolve));
  }

  /** Settles when everything queued so far is written (or given up on at `deadline`). */
  async drain(deadline = Number.POSITIVE_INFINITY): Promise<void> {
    while (this.#flushing !== undefined && Date.now() < deadline) {
      await Promise.race([this.#flushing, sleep(Math.max(0, deadline - Date.now()))]);
    }
  }

  async #flush(): Promise<void> {
    await Promise.resolve(); // let the reports of this tick join the batch
    while (this.#pending.size > 0) {
      const batch = [...this.#pending.values()];
      this.#pending = new Map();
      try {
        const known = await this.options.store.applyReportedMany(batch);
        this.#failures = 0;
        for (const report of batch) {
          if (known.has(report.deviceId)) this.options.onWritten(report);
          else this.options.onUnknown(report);
        }
      } catch (err) {
        // Put the batch back behind anything newer of the same devices, then wait and retry.
        for (const report of batch)
          if (!this.#pending.has(report.deviceId)) this.#pending.set(report.deviceId, report);
        const { initialMs = 100, maxMs = 5_000 } = this.options.retry ?? {};
        const delay = Math.min(maxMs, initialMs * 2 ** this.#failures++);
        this.options.logger.warn(
          { event: 'mqtt.reported_write_failed', devices: batch.length, retryInMs: delay, err: String(err) },
          'could not store reported states; retrying',
        );
        await sleep(delay);
      }
      this.#wakeRoomWaiters();
    }
    this.#flushing = undefined;
    this.#wakeRoomWaiters();
  }

  #wakeRoomWaiters(): void {
    if (this.#pending.size >= this.#maxPending) return;
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const wake of waiters) wake();
  }
}
