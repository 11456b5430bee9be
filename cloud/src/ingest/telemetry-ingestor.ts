// Telemetry ingestion: validated windows from the MQTT bridge (and, later, the HTTP path) go into a
// bounded buffer and are written to `telemetry_windows` in batches by one flush loop.
//
// Guarantees, and where they stop:
// - A window is acknowledged to the broker once it is in the buffer. When the buffer is full the
//   acknowledgement is withheld (an ack hold on the connection's message router, mqtt/router.ts),
//   so the broker keeps the rest. A hard crash loses at most `maxBuffered` acknowledged windows; a
//   graceful stop writes them first.
// - A write that fails (database down, slow, failing over) is retried with capped exponential
//   backoff, forever while running; the buffer fills meanwhile and backpressure takes over.
// - Duplicates (redelivery, a device replaying its queue, two workers) are dropped by the primary
//   key, counted as `duplicate`; order does not matter.
// - A device past its rate limit has its windows dead-lettered (raw JSON kept) and counted.
// - A window the database refuses (data exception, constraint) is isolated by halving the batch
//   and dead-lettered as WRITE_REJECTED; it never blocks the windows around it.
import { setTimeout as sleep } from 'node:timers/promises';
import { type TelemetryWindow, topics } from '@edgeloop/shared';
import { Registry } from 'prom-client';
import { type Db, sqlState } from '../db/index.ts';
import { type DeviceRateLimit, DeviceRateLimiter } from '../limits/device-rate-limiter.ts';
import type { CloudMqttConnection } from '../mqtt/connection.ts';
import { DeadLetterSink } from '../mqtt/dead-letters.ts';
import { type Logger, sharedCounter, silentLogger } from '../mqtt/observability.ts';
import type { RouteRegistration } from '../mqtt/router.ts';
import { type IngestMetrics, ingestMetrics } from './ingest-metrics.ts';
import { type TelemetryWindowRow, windowRow } from './window-row.ts';
import { insertWindows } from './window-writer.ts';

/** The part of MqttBridge ingestion listens to. */
/** Per-device telemetry limit: a burst sized for a store-and-forward backlog after an outage,
 * refilled well above any sane window cadence (one a minute). */
export type TelemetryRateLimit = DeviceRateLimit;
export const DEFAULT_TELEMETRY_RATE_LIMIT: TelemetryRateLimit = { perSecond: 5, burst: 600 };

export interface TelemetrySource {
  on(event: 'telemetry', listener: (deviceId: string, window: TelemetryWindow) => void): unknown;
  off(event: 'telemetry', listener: (deviceId: string, window: TelemetryWindow) => void): unknown;
}

export interface TelemetryIngestorOptions {
  db: Db;
  /** Where windows come from (the MqttBridge); omit to feed `offer()` directly. */
  source?: TelemetrySource;
  /** The bridge's connection: with it, a full buffer withholds MQTT acknowledgements. */
  connection?: Pick<CloudMqttConnection, 'messages'>;
  /** Windows per INSERT (default 500) and longest wait for a batch to fill (default 100 ms). */
  batchSize?: number;
  flushIntervalMs?: number;
  /** Windows held (buffered + being written) before acknowledgements stop (default 5,000). */
  maxBuffered?: number;
  /** Backoff between failed writes (defaults 100 ms doubling to 5 s). */
  retry?: { initialMs?: number; maxMs?: number };
  /** How long `stop()` keeps trying to write what is left (default 10 s). */
  stopTimeoutMs?: number;
  /** Per-device token bucket; `false` turns it off. */
  rateLimit?: TelemetryRateLimit | false;
  /** Dead letters for rate-limited windows: raw bytes kept (default 2 KiB), stored per second (20). */
  deadLetters?: { rawLimit?: number; perSecond?: number };
  registry?: Registry;
  logger?: Logger;
  now?: () => number;
}

interface Pending {
  deviceId: string;
  window: TelemetryWindow;
  row: TelemetryWindowRow;
}

/**
 * A failure caused by the rows themselves (a data exception, a violated constraint, a value the
 * encoder refuses), which no retry will fix, as opposed to the database being unreachable or slow.
 */
export function isPoisonBatchError(err: unknown): boolean {
  if (err instanceof RangeError || err instanceof TypeError) return true;
  const state = sqlState(err);
  return state !== undefined && (state.startsWith('22') || state.startsWith('23'));
}

export class TelemetryIngestor {
  private readonly db: Db;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly metrics: IngestMetrics;
  private readonly limiter: DeviceRateLimiter | undefined;
  private readonly sink: DeadLetterSink;
  private readonly batchSize: number;
  private readonly maxBuffered: number;
  private readonly flushIntervalMs: number;
  private buffer: Pending[] = [];
  /** Dead-letter writes not yet finished; the ack gate waits for them too. */
  private readonly letters = new Set<Promise<unknown>>();
  private roomWaiters: Array<() => void> = [];
  private wakeLoop: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private gate: RouteRegistration | undefined;
  private running = false;
  private stopDeadline = Number.POSITIVE_INFINITY;
  private readonly listener = (deviceId: string, window: TelemetryWindow) => {
    this.offer(deviceId, window);
  };

  constructor(private readonly options: TelemetryIngestorOptions) {
    this.db = options.db;
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
    const registry = options.registry ?? new Registry();
    this.metrics = ingestMetrics(registry);
    this.batchSize = options.batchSize ?? 500;
    this.maxBuffered = options.maxBuffered ?? 5_000;
    this.flushIntervalMs = options.flushIntervalMs ?? 100;
    if (!(this.batchSize >= 1 && this.maxBuffered >= this.batchSize)) {
      throw new RangeError(
        `ingest needs batchSize >= 1 and maxBuffered >= batchSize, got ${this.batchSize} / ${this.maxBuffered}`,
      );
    }
    const limit = options.rateLimit ?? DEFAULT_TELEMETRY_RATE_LIMIT;
    this.limiter = limit === false ? undefined : new DeviceRateLimiter(limit, this.now);
    // Same series as the bridge's refusals, so one panel shows every dead letter by code.
    this.sink = new DeadLetterSink(
      options.db,
      sharedCounter(
        registry,
        'edgeloop_mqtt_dead_letters_total',
        'Device messages refused by the cloud bridge',
        ['channel', 'code', 'stored'],
      ),
      this.logger,
      {
        rawLimit: options.deadLetters?.rawLimit ?? 2048,
        perSecond: options.deadLetters?.perSecond ?? 20,
        now: this.now,
      },
    );
  }

  /**
   * Starts the flush loop, listens to the source and gates acknowledgements: the router asks
   * `room()` after the bridge has handled a packet, so the window just offered counts.
   */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopDeadline = Number.POSITIVE_INFINITY;
    if (this.options.connection) this.gate = this.options.connection.messages.holdAcks(() => this.room());
    this.options.source?.on('telemetry', this.listener);
    this.loop = this.flushLoop();
  }

  /** Stops listening, writes what is buffered (up to `stopTimeoutMs`), removes the gate. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.options.source?.off('telemetry', this.listener);
    this.running = false;
    this.stopDeadline = this.now() + (this.options.stopTimeoutMs ?? 10_000);
    this.wakeLoop?.();
    await this.loop;
    await Promise.allSettled([...this.letters]);
    this.gate?.remove();
    this.gate = undefined;
    this.releaseWaiters();
  }

  /**
   * Takes one validated window. Returns what happened to it; `buffered` windows are written by the
   * flush loop. Callers that cannot be held back (HTTP) should check `hasRoom` first.
   */
  offer(deviceId: string, window: TelemetryWindow): 'buffered' | 'rate_limited' {
    const receivedAt = this.now();
    if (this.limiter && !this.limiter.take(deviceId)) {
      this.metrics.windows.inc({ outcome: 'rate_limited' });
      const letter = this.sink
        .record({
          topic: topics.telemetry(deviceId),
          deviceId,
          channel: 'telemetry',
          code: 'RATE_LIMITED',
          reason: `device ${deviceId} exceeded its telemetry rate limit; window seq ${window.seq} not stored`,
          raw: new TextEncoder().encode(JSON.stringify(window)),
        })
        .catch((err: unknown) =>
          this.logger.error(
            { event: 'ingest.dead_letter_failed', deviceId, err: String(err) },
            'dead letter not stored',
          ),
        );
      this.letters.add(letter);
      void letter.finally(() => this.letters.delete(letter));
      return 'rate_limited';
    }
    this.metrics.lagSeconds.observe(Math.max(0, (receivedAt - window.windowEnd) / 1000));
    this.buffer.push({ deviceId, window, row: windowRow(deviceId, window, new Date(receivedAt)) });
    this.metrics.buffered.set(this.buffer.length);
    if (this.buffer.length >= this.batchSize) this.wakeLoop?.();
    return 'buffered';
  }

  get hasRoom(): boolean {
    return this.buffer.length < this.maxBuffered;
  }

  get bufferedWindows(): number {
    return this.buffer.length;
  }

  /** Resolves once everything offered so far is written (tests, shutdown hooks). */
  async drain(): Promise<void> {
    while (this.buffer.length > 0 || this.letters.size > 0) {
      this.wakeLoop?.();
      await sleep(5);
    }
  }

  /** Undefined when a message may be acknowledged now; otherwise resolves when it may. */
  private room(): Promise<void> | undefined {
    if (this.hasRoom && this.letters.size === 0) return undefined;
    const started = performance.now();
    this.metrics.backpressure.set(this.hasRoom ? 0 : 1);
    return (async () => {
      await Promise.allSettled([...this.letters]);
      while (!this.hasRoom && this.running) {
        await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
      }
      this.metrics.backpressure.set(0);
      this.metrics.backpressureSeconds.inc((performance.now() - started) / 1000);
    })();
  }

  private releaseWaiters(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const wake of waiters) wake();
  }

  private async flushLoop(): Promise<void> {
    while (this.running || this.buffer.length > 0) {
      if (this.running && this.buffer.length < this.batchSize) await this.waitForBatch();
      if (this.buffer.length === 0) continue;
      const batch = this.buffer.slice(0, this.batchSize);
      const written = await this.writeWithRetry(batch);
      // Rows leave the buffer only once written: while a batch is in flight it still counts
      // against the bound.
      this.buffer.splice(0, batch.length);
      this.metrics.buffered.set(this.buffer.length);
      if (!written) {
        this.metrics.windows.inc({ outcome: 'lost' }, batch.length);
        this.logger.error(
          { event: 'ingest.windows_lost', windows: batch.length },
          'stopping with the database unreachable: acknowledged windows were not written',
        );
      }
      this.releaseWaiters();
    }
  }

  private waitForBatch(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.flushIntervalMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeLoop = () => {
        this.wakeLoop = undefined;
        done();
      };
    });
  }

  /** True once written; false only when stopping and the stop deadline passed. */
  /**
   * One bad row must not block ingestion forever: halve the batch until the rows that fail on
   * their own are found, dead-letter those (raw window kept) and write the rest.
   */
  private async isolatePoison(batch: Pending[], err: unknown): Promise<boolean> {
    if (batch.length > 1) {
      const half = Math.ceil(batch.length / 2);
      const first = await this.writeWithRetry(batch.slice(0, half));
      const second = await this.writeWithRetry(batch.slice(half));
      return first && second;
    }
    const [bad] = batch as [Pending];
    this.metrics.windows.inc({ outcome: 'rejected' });
    await this.sink
      .record({
        topic: topics.telemetry(bad.deviceId),
        deviceId: bad.deviceId,
        channel: 'telemetry',
        code: 'WRITE_REJECTED',
        reason: `database refused window seq ${bad.window.seq}: ${String(err).slice(0, 500)}`,
        raw: new TextEncoder().encode(JSON.stringify(bad.window)),
      })
      .catch(() => undefined);
    return true;
  }

  private async writeWithRetry(batch: Pending[]): Promise<boolean> {
    let delay = this.options.retry?.initialMs ?? 100;
    const maxDelay = this.options.retry?.maxMs ?? 5_000;
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      try {
        const stored = await insertWindows(
          this.db,
          batch.map((p) => p.row),
        );
        this.metrics.batchSeconds.observe((performance.now() - started) / 1000);
        this.metrics.batchRows.observe(batch.length);
        this.metrics.windows.inc({ outcome: 'stored' }, stored);
        if (stored < batch.length) this.metrics.windows.inc({ outcome: 'duplicate' }, batch.length - stored);
        if (attempt > 1)
          this.logger.info({ event: 'ingest.write_recovered', attempt }, 'telemetry writes resumed');
        return true;
      } catch (err) {
        this.metrics.writeErrors.inc();
        if (isPoisonBatchError(err)) return this.isolatePoison(batch, err);
        this.logger.warn(
          {
            event: 'ingest.write_failed',
            attempt,
            windows: batch.length,
            retryInMs: delay,
            err: String(err),
          },
          'telemetry batch write failed; retrying',
        );
        if (!this.running && this.now() + delay > this.stopDeadline) return false;
        await sleep(delay);
        delay = Math.min(delay * 2, maxDelay);
      }
    }
  }
}
