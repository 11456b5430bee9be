// Retraining samples (opt-in per profile): after each successful inference the sample policy decides
// whether to keep the model's input — the preprocessed tensor, exactly what the model saw — with its
// prediction, the model, the telemetry window it fell in and, when the frame came with one, its
// ground-truth label. Kept samples wait in a small in-memory queue and go out in batches on
// `el/v1/dev/{id}/samples` (QoS 1) when a batch is full or the flush interval ticks. Samples are best
// effort: offline, the queue keeps the newest and counts what it drops; nothing is written to disk.
import { randomUUID } from 'node:crypto';
import { endianness } from 'node:os';
import { channelDelivery, type ModelRef, type Sample, sampleSchema, topics } from '@edgeloop/shared';
import type { Registry } from 'prom-client';
import type { AgentConnection } from '../../connection.ts';
import type { AgentEventBus } from '../../event-bus.ts';
import { type AgentLogger, errorFields } from '../../log.ts';
import { type SampleDropCause, SampleMetrics } from './sample-metrics.ts';
import { SamplePolicy, type SampleReason, type SamplingSettings } from './sample-policy.ts';
import { MAX_BATCH_SAMPLES, SampleQueue } from './sample-queue.ts';

/** The wire's limit on one tensor's base64 text (`sampleSchema`). */
const MAX_TENSOR_CHARS = 200_000;

/** What the sampler needs to know of one successful inference. */
export interface SampledFrame {
  model: ModelRef;
  /** The model input, as fed to the session (batch of one). */
  tensor: Float32Array;
  /** The concrete input shape the session ran with. */
  shape: readonly number[];
  classIndex: number;
  confidence: number;
  /** Ground truth, when the frame's source knows it (the simulator's synthetic camera). */
  groundTruth?: number;
}

export interface SamplesFeatureOptions {
  deviceId: string;
  settings: SamplingSettings;
  /** `config.samplingRate` of the stored desired state, which overrides the profile's rate. */
  rateOverride?: number | undefined;
  connection: Pick<AgentConnection, 'connected' | 'publish'>;
  bus: AgentEventBus;
  registry: Registry;
  /** Sequence number the current telemetry window will close with, when known. */
  windowSeq: () => number | null;
  flushMs: number;
  queueMaxSamples: number;
  queueMaxBytes?: number;
  logger: AgentLogger;
  now?: () => number;
  random?: () => number;
}

export interface SampleStats {
  queued: number;
  kept: number;
  sent: number;
  dropped: number;
}

export class SamplesFeature {
  readonly metrics: SampleMetrics;
  readonly #policy: SamplePolicy;
  readonly #queue: SampleQueue;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | null = null;
  #sending: Promise<void> | null = null;
  #stopped = true;
  #tooLargeLogged = false;
  readonly #stats = { kept: 0, sent: 0, dropped: 0 };

  constructor(private readonly o: SamplesFeatureOptions) {
    this.#now = o.now ?? Date.now;
    this.#policy = new SamplePolicy(o.settings, {
      rateOverride: o.rateOverride,
      now: this.#now,
      ...(o.random ? { random: o.random } : {}),
    });
    this.#queue = new SampleQueue(o.queueMaxSamples, o.queueMaxBytes ?? 1024 * 1024);
    this.metrics = new SampleMetrics(o.registry);
  }

  get stats(): SampleStats {
    return { queued: this.#queue.length, ...this.#stats };
  }

  start(): void {
    this.#stopped = false;
    if (!this.#policy.enabled) return; // opt-in: a profile without sampling costs nothing per frame
    this.o.bus.on('frame', this, (frame) => this.offer(frame));
    this.o.bus.on('desiredConfig', this, (config) => this.#policy.overrideRate(config.samplingRate));
    this.o.bus.on('connected', this, () => void this.flush());
    this.#timer = setInterval(() => void this.flush(), this.o.flushMs);
  }

  /** Considers one inference; runs on the request path, so it only decides and queues. */
  offer(frame: SampledFrame): void {
    if (this.#stopped) return;
    const decision = this.#policy.decide(frame.confidence);
    if (!decision.keep) {
      if (decision.rateLimited && decision.reason) this.#drop(decision.reason, 'rate_limited');
      return;
    }
    const sample = this.#sampleOf(frame, decision.reason);
    if (!sample) return;
    this.#stats.kept++;
    this.metrics.kept.inc({ reason: sample.reason });
    for (const old of this.#queue.push(sample)) this.#drop(old.reason, 'queue_full');
    this.metrics.queued.set(this.#queue.length);
    if (this.#queue.length >= MAX_BATCH_SAMPLES) void this.flush();
  }

  #sampleOf(frame: SampledFrame, reason: SampleReason): Sample | null {
    const bytes = frame.tensor.length * 4;
    if (Math.ceil(bytes / 3) * 4 > MAX_TENSOR_CHARS) {
      if (!this.#tooLargeLogged) {
        this.#tooLargeLogged = true;
        this.o.logger.warn('samples.tensor_too_large', { bytes, limitChars: MAX_TENSOR_CHARS });
      }
      this.#drop(reason, 'too_large');
      return null;
    }
    const windowSeq = this.o.windowSeq();
    const candidate = {
      id: randomUUID(),
      capturedAt: this.#now(),
      ...(windowSeq === null ? {} : { windowSeq }),
      model: frame.model,
      prediction: { classIndex: frame.classIndex, confidence: clamp01(frame.confidence) },
      reason,
      tensor: { shape: [...frame.shape], data: float32LeBase64(frame.tensor) },
      ...(frame.groundTruth === undefined ? {} : { label: frame.groundTruth }),
    };
    const parsed = sampleSchema.safeParse(candidate);
    if (!parsed.success) {
      this.o.logger.warn('samples.invalid', { reason, issues: parsed.error.issues.slice(0, 3) });
      this.#drop(reason, 'invalid');
      return null;
    }
    return parsed.data;
  }

  /** Sends queued samples, a batch at a time, while connected. */
  flush(): Promise<void> {
    if (this.#sending) return this.#sending;
    this.#sending = this.#sendLoop()
      .catch((err) => this.o.logger.warn('samples.send_interrupted', errorFields(err)))
      .finally(() => {
        this.#sending = null;
      });
    return this.#sending;
  }

  async #sendLoop(): Promise<void> {
    while (this.o.connection.connected && this.#queue.length > 0) {
      const next = this.#queue.nextBatch(this.o.deviceId);
      this.metrics.queued.set(this.#queue.length);
      if (next.kind === 'empty') return;
      if (next.kind === 'too-large') {
        this.o.logger.warn('samples.batch_too_large', { bytes: next.bytes });
        this.#drop(next.sample.reason, 'too_large');
        continue;
      }
      if (next.kind === 'invalid') {
        this.o.logger.error('samples.encode_failed', errorFields(next.error));
        for (const sample of next.samples) this.#drop(sample.reason, 'invalid');
        continue;
      }
      try {
        // Resolves on PUBACK; a session that drops meanwhile resends it when it resumes.
        await this.o.connection.publish(
          topics.samples(this.o.deviceId),
          next.payload,
          channelDelivery.samples,
        );
      } catch (err) {
        for (const sample of next.samples) this.#drop(sample.reason, 'publish_failed');
        throw err;
      }
      for (const sample of next.samples) this.metrics.sent.inc({ reason: sample.reason });
      this.#stats.sent += next.samples.length;
    }
  }

  #drop(reason: SampleReason, cause: SampleDropCause): void {
    this.#stats.dropped++;
    this.metrics.drop(reason, cause);
  }

  /**
   * Stops sampling. Graceful: queued samples go out if the connection still takes them (best
   * effort); otherwise they are lost with the process, as in a crash.
   */
  stop(options: { graceful?: boolean } = {}): void {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.o.bus.removeListeners(this);
    if (options.graceful ?? true) void this.flush();
    else this.#queue.clear();
    this.metrics.queued.set(this.#queue.length);
  }

  /** Settles when a send in flight has ended (the connection's stop ends it). */
  async drained(): Promise<void> {
    await this.#sending;
  }
}

function clamp01(value: number): number {
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
}

/** Float32 values as little-endian bytes in base64, whatever the host's byte order. */
function float32LeBase64(values: Float32Array): string {
  if (endianness() === 'LE') {
    return Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64');
  }
  const bytes = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) bytes.writeFloatLE(values[i] as number, i * 4);
  return bytes.toString('base64');
}
