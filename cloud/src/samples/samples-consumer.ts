// Sample ingestion: `el/v1/dev/+/samples` off the cloud's MQTT connection into `fleet_samples`.
//
// Guarantees, and where they stop:
// - A batch is acknowledged to the broker once it is validated and queued for its write
//   (sample-write-queue.ts), which stores the queued batches several per INSERT. More than 256
//   queued batches, or the database down, withholds acknowledgements (an ack hold on the router), so
//   the broker keeps the rest. Writing each batch before reading the next packet, as before, held
//   every other message the cloud receives behind the sample writes. A hard crash loses at most the
//   queued batches (samples are a random draw for retraining; telemetry ingestion has the same
//   bound); a stop during an outage gives up after `stopTimeoutMs` and counts them `lost`.
// - Rows go in with INSERT ... ON CONFLICT DO NOTHING on (device_id, sample_id): redelivery and
//   replays store nothing new and count as `duplicate`. A group the database refuses is retried
//   batch by batch, and only the refused batch is dead-lettered (WRITE_REJECTED).
// - Refused batches (malformed JSON, unsupported version, invalid fields, a device speaking for
//   another, a tensor whose bytes do not match its shape, an unknown device, over the device's rate)
//   are dead-lettered with a stable code, counted and logged; they never reach the table.
import { setTimeout as sleep } from 'node:timers/promises';
import { EdgeloopError, sampleBatchPayload, topicFilters, tryParseTopic } from '@edgeloop/shared';
import type { IPublishPacket } from 'mqtt';
import { Registry } from 'prom-client';
import type { Db } from '../db/index.ts';
import { isPoisonBatchError } from '../ingest/telemetry-ingestor.ts';
import { type DeviceRateLimit, DeviceRateLimiter } from '../limits/device-rate-limiter.ts';
import type { CloudMqttConnection } from '../mqtt/connection.ts';
import { type DeadLetter, DeadLetterSink } from '../mqtt/dead-letters.ts';
import { DeviceStateStore } from '../mqtt/device-state.ts';
import { type Logger, sharedCounter, silentLogger } from '../mqtt/observability.ts';
import type { RouteRegistration } from '../mqtt/router.ts';
import { checkSampleBatch, type FleetSampleRow, sampleRow } from './sample-row.ts';
import { SampleWriteQueue } from './sample-write-queue.ts';
import { insertSamples } from './sample-writer.ts';
import { type SampleOutcome, type SamplesMetrics, samplesMetrics } from './samples-metrics.ts';

/** Per device, in batches: a backlog after an outage may come at once, then one every few seconds. */
export const DEFAULT_SAMPLES_RATE_LIMIT: DeviceRateLimit = { perSecond: 0.5, burst: 60 };

const SAMPLES_FILTER = topicFilters.allDevices('samples');

export interface SamplesConsumerOptions {
  db: Db;
  connection: Pick<CloudMqttConnection, 'client' | 'messages' | 'subscribe' | 'supportsSharedSubscriptions'>;
  /** MQTT 5 shared-subscription group, so several cloud processes split the samples (default `ingest`). */
  shareGroup?: string;
  /** Per-device token bucket (one token a batch); `false` turns it off. */
  rateLimit?: DeviceRateLimit | false;
  /** Backoff between failed database calls (defaults 100 ms doubling to 5 s). */
  retry?: { initialMs?: number; maxMs?: number };
  /** How long `stop()` lets a batch keep retrying during an outage (default 10 s). */
  stopTimeoutMs?: number;
  /** Raw bytes kept per dead letter (default 2 KiB) and dead letters stored per second (default 20). */
  deadLetters?: { rawLimit?: number; perSecond?: number };
  registry?: Registry;
  logger?: Logger;
  now?: () => number;
}

export class SamplesError extends EdgeloopError {}

type Attempt<T> = { ok: true; value: T } | { ok: false; poison: boolean; err: unknown };

export class SamplesConsumer {
  private readonly db: Db;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly metrics: SamplesMetrics;
  private readonly sink: DeadLetterSink;
  private readonly devices: DeviceStateStore;
  private readonly limiter: DeviceRateLimiter | undefined;
  private readonly filter: string;
  private route: RouteRegistration | undefined;
  private hold: RouteRegistration | undefined;
  private readonly queue: SampleWriteQueue<FleetSampleRow>;
  /** The dead letter each queued batch becomes if the database refuses it (raw bytes, topic). */
  private readonly letters = new Map<FleetSampleRow[], DeadLetter>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private running = false;
  private stopDeadline = Number.POSITIVE_INFINITY;

  constructor(private readonly options: SamplesConsumerOptions) {
    this.db = options.db;
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
    const registry = options.registry ?? new Registry();
    this.metrics = samplesMetrics(registry);
    this.devices = new DeviceStateStore(options.db);
    const limit = options.rateLimit ?? DEFAULT_SAMPLES_RATE_LIMIT;
    this.limiter = limit === false ? undefined : new DeviceRateLimiter(limit, this.now);
    // Same series as the bridge's refusals, so one panel shows every dead letter by channel and code.
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
    this.queue = new SampleWriteQueue<FleetSampleRow>({
      insert: (rows) => insertSamples(this.db, rows),
      isPoison: isPoisonBatchError,
      onWritten: (batches, stored) => {
        const rows = batches.reduce((n, b) => n + b.rows.length, 0);
        for (const b of batches) this.letters.delete(b.rows);
        this.count('stored', stored);
        this.count('duplicate', rows - stored);
      },
      onPoison: (batch, err) => {
        const base = this.letters.get(batch.rows);
        this.letters.delete(batch.rows);
        if (base) void this.giveUp({ poison: true, err }, base, batch.rows.length);
      },
      onLost: (batch, err) => {
        const base = this.letters.get(batch.rows);
        this.letters.delete(batch.rows);
        if (base) void this.giveUp({ poison: false, err }, base, batch.rows.length);
      },
      onWriteError: () => this.metrics.writeErrors.inc(),
      logger: this.logger,
      ...(options.retry ? { retry: options.retry } : {}),
    });
    this.filter = options.connection.supportsSharedSubscriptions
      ? topicFilters.shared(options.shareGroup ?? 'ingest', 'samples')
      : SAMPLES_FILTER;
  }

  /** Registers with the connection's message router (a batch is acknowledged once written) and subscribes. */
  async start(): Promise<void> {
    if (this.route) return;
    this.running = true;
    this.stopDeadline = Number.POSITIVE_INFINITY;
    this.route = this.options.connection.messages.consume({
      filters: [SAMPLES_FILTER],
      handle: (packet) => this.track(this.consume(packet)),
      onError: (packet, err) =>
        this.logger.error(
          { event: 'samples.consume_failed', topic: packet.topic, err: String(err) },
          'sample batch could not be processed',
        ),
    });
    this.hold = this.options.connection.messages.holdAcks(() => this.queue.room());
    const granted = await this.options.connection.subscribe([this.filter], 1);
    if (granted.some((g) => g.qos === 128)) {
      await this.stop();
      throw new SamplesError('FORBIDDEN', `broker refused the subscription ${this.filter}`);
    }
  }

  /** Unsubscribes, lets a batch in flight finish (up to `stopTimeoutMs`), then unregisters. */
  async stop(): Promise<void> {
    if (!this.route) return;
    this.running = false;
    this.stopDeadline = this.now() + (this.options.stopTimeoutMs ?? 10_000);
    const { client } = this.options.connection;
    // A persistent session keeps its subscription: the broker holds samples until it resumes.
    if (client.connected && client.options.clean !== false)
      await client.unsubscribeAsync(this.filter).catch(() => undefined);
    await Promise.allSettled([...this.inFlight]);
    await this.queue.drain(Date.now() + (this.options.stopTimeoutMs ?? 10_000));
    this.route.remove();
    this.route = undefined;
    this.hold?.remove();
    this.hold = undefined;
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work)).catch(() => undefined);
    return work;
  }

  private async consume(packet: IPublishPacket): Promise<void> {
    const raw = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const parsed = tryParseTopic(packet.topic);
    const letter = (deviceId: string | null, code: string, reason: string): DeadLetter => ({
      topic: packet.topic,
      deviceId,
      channel: 'samples',
      code,
      reason,
      raw,
    });
    if (parsed?.kind !== 'device') {
      return this.refuse(letter(null, 'TOPIC_INVALID', 'not a valid device topic'), 1);
    }
    const { deviceId } = parsed;
    const decoded = sampleBatchPayload.decode(raw);
    if (!decoded.ok) return this.refuse(letter(deviceId, decoded.error.code, decoded.error.reason), 1);
    const batch = decoded.value;
    const count = batch.samples.length;
    if (batch.deviceId !== deviceId) {
      return this.refuse(
        letter(
          deviceId,
          'DEVICE_MISMATCH',
          `payload deviceId ${JSON.stringify(batch.deviceId)} on ${deviceId}'s topic`,
        ),
        count,
      );
    }
    const refusal = checkSampleBatch(batch);
    if (refusal) return this.refuse(letter(deviceId, refusal.code, refusal.reason), count);

    const known = await this.attempt('device lookup', () => this.devices.exists(deviceId));
    if (!known.ok) return this.giveUp(known, letter(deviceId, 'WRITE_REJECTED', ''), count);
    if (!known.value) {
      return this.refuse(
        letter(deviceId, 'NOT_FOUND', `samples from unprovisioned device ${deviceId}`),
        count,
      );
    }
    if (this.limiter && !this.limiter.take(deviceId)) {
      return this.refuse(
        letter(deviceId, 'RATE_LIMITED', `device ${deviceId} exceeded its samples rate limit`),
        count,
        'rate_limited',
      );
    }

    const receivedAt = new Date(this.now());
    const rows = batch.samples.map((s) => sampleRow(deviceId, s, receivedAt));
    // Written with the batches queued meanwhile (sample-write-queue.ts), off the message path.
    this.letters.set(rows, letter(deviceId, 'WRITE_REJECTED', ''));
    this.queue.offer({ deviceId, rows });
  }

  /** Runs a database call, retrying failures that waiting can fix while running (or until the stop deadline). */
  private async attempt<T>(what: string, call: () => Promise<T>): Promise<Attempt<T>> {
    let delay = this.options.retry?.initialMs ?? 100;
    const maxDelay = this.options.retry?.maxMs ?? 5_000;
    for (let attempt = 1; ; attempt++) {
      try {
        const value = await call();
        if (attempt > 1)
          this.logger.info({ event: 'samples.db_recovered', what, attempt }, 'sample ingestion resumed');
        return { ok: true, value };
      } catch (err) {
        this.metrics.writeErrors.inc();
        if (isPoisonBatchError(err)) return { ok: false, poison: true, err };
        if (!this.running && this.now() + delay > this.stopDeadline) return { ok: false, poison: false, err };
        this.logger.warn(
          { event: 'samples.db_failed', what, attempt, retryInMs: delay, err: String(err) },
          'sample ingestion: database call failed; retrying (acknowledgement withheld)',
        );
        await sleep(delay);
        delay = Math.min(delay * 2, maxDelay);
      }
    }
  }

  private async giveUp(failed: { poison: boolean; err: unknown }, base: DeadLetter, count: number) {
    if (failed.poison) {
      return this.refuse(
        { ...base, reason: `database refused the batch: ${String(failed.err).slice(0, 500)}` },
        count,
        'write_rejected',
      );
    }
    this.count('lost', count);
    this.logger.error(
      { event: 'samples.lost', deviceId: base.deviceId, samples: count, err: String(failed.err) },
      'stopping with the database unreachable: an acknowledged sample batch was not written',
    );
  }

  private async refuse(
    letter: DeadLetter,
    count: number,
    outcome: SampleOutcome = 'rejected',
  ): Promise<void> {
    this.count(outcome, count);
    // The sink counts and logs before it writes: a database outage loses the stored copy, not the record.
    await this.sink
      .record(letter)
      .catch((err: unknown) =>
        this.logger.error(
          { event: 'samples.dead_letter_failed', deviceId: letter.deviceId, err: String(err) },
          'dead letter not stored',
        ),
      );
  }

  private count(outcome: SampleOutcome, n: number): void {
    if (n > 0) this.metrics.received.inc({ outcome }, n);
  }
}
