// Telemetry with store and forward. Every window (length from the profile, the desired config, or a
// tuning override) is closed with a durable sequence number and appended to the on-disk queue first;
// a sender then publishes the queue oldest first at QoS 1 and removes a window only after its PUBACK.
// Offline, windows pile up on disk within the profile's byte bound; on reconnect the queue drains in
// order. A crash after a PUBACK but before the removal re-sends one window: the cloud deduplicates by
// (device, seq), so the promise is at-least-once and never a silent loss within the bound.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  channelDelivery,
  type ModelRef,
  type TelemetryWindow,
  telemetryWindowPayload,
  topics,
} from '@edgeloop/shared';
import type { AgentConnection } from '../connection.ts';
import { SerialQueue } from '../durable-fs.ts';
import type { AgentEventBus } from '../event-bus.ts';
import { type AgentLogger, errorFields } from '../log.ts';
import type { AgentMetrics } from '../metrics.ts';
import { SequenceCounter } from '../sequence.ts';
import { TelemetryQueue, type TelemetryQueueStats } from '../telemetry-queue.ts';
import { TelemetryWindowAccumulator } from '../telemetry-window.ts';

export interface TelemetryFeatureOptions {
  deviceId: string;
  dir: string;
  windowMs: number;
  /** A fixed window (tuning override): desired-config changes are then ignored. */
  windowFixed: boolean;
  queueMaxBytes: number;
  connection: Pick<AgentConnection, 'connected' | 'publish'>;
  bus: AgentEventBus;
  model: () => { ref: ModelRef | null; classCount: number };
  metrics: AgentMetrics;
  logger: AgentLogger;
  now?: () => number;
}

export class TelemetryFeature {
  readonly #sequence: SequenceCounter;
  readonly #queue: TelemetryQueue;
  readonly #closing = new SerialQueue();
  #window: TelemetryWindowAccumulator | null = null;
  #timer: NodeJS.Timeout | null = null;
  #windowMs: number;
  #draining: Promise<void> | null = null;
  #stopped = false;
  #sent = 0;

  constructor(private readonly o: TelemetryFeatureOptions) {
    this.#sequence = new SequenceCounter(join(o.dir, 'sequence.json'), o.now);
    this.#queue = new TelemetryQueue(join(o.dir, 'queue'), { maxBytes: o.queueMaxBytes });
    this.#windowMs = o.windowMs;
  }

  get queueStats(): TelemetryQueueStats {
    return this.#queue.stats();
  }

  /** The sequence number the current window will most likely close with (retraining samples). */
  get windowSeq(): number | null {
    return this.#sequence.next;
  }

  /** Windows published and acknowledged by this process. */
  get sent(): number {
    return this.#sent;
  }

  async start(): Promise<void> {
    this.#stopped = false;
    await mkdir(this.#queue.dir, { recursive: true });
    const recovered = await this.#sequence.start();
    if (recovered.recovered) this.o.logger.warn('telemetry.sequence_recovered');
    const stats = await this.#queue.start();
    this.o.metrics.telemetryQueued.set(stats.entries);
    this.#window = new TelemetryWindowAccumulator({
      deviceId: this.o.deviceId,
      sequence: this.#sequence,
      ...(this.o.now ? { now: this.o.now } : {}),
    });
    this.o.bus.on('inference', this, (event) => {
      if (event.ok) this.#window?.recordInference(event);
      else this.#window?.recordError();
    });
    this.o.bus.on('shadowInference', this, (event) => this.#window?.recordShadow(event));
    this.o.bus.on('connected', this, () => void this.drain());
    this.o.bus.on('desiredConfig', this, (config) => {
      if (this.o.windowFixed || config.telemetryWindowSeconds === undefined) return;
      this.#windowMs = config.telemetryWindowSeconds * 1000;
      this.#arm();
    });
    this.#arm();
    void this.drain();
  }

  #arm(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = setInterval(() => {
      this.closeWindow().catch((err) => this.o.logger.error('telemetry.window_failed', errorFields(err)));
    }, this.#windowMs);
  }

  /** Ends the current window: stored durably, then sent when connected. */
  closeWindow(): Promise<TelemetryWindow | null> {
    return this.#closing.run(async () => {
      const accumulator = this.#window;
      if (!accumulator) return null;
      const { ref, classCount } = this.o.model();
      const window = await accumulator.close({ model: ref, classCount });
      const { droppedWindows } = await this.#queue.append(window);
      this.o.metrics.telemetryQueued.set(this.#queue.stats().entries);
      void this.drain();
      return { ...window, droppedWindows };
    });
  }

  /** Sends queued windows oldest first until the queue is empty or the connection drops. */
  drain(): Promise<void> {
    if (this.#draining) return this.#draining;
    this.#draining = this.#drainLoop()
      .catch((err) => this.o.logger.warn('telemetry.drain_interrupted', errorFields(err)))
      .finally(() => {
        this.#draining = null;
      });
    return this.#draining;
  }

  async #drainLoop(): Promise<void> {
    while (!this.#stopped && this.o.connection.connected) {
      const batch = await this.#queue.peek(16);
      if (batch.length === 0) return;
      for (const { id, window } of batch) {
        if (this.#stopped || !this.o.connection.connected) return;
        // Resolves on PUBACK; if the session drops first, mqtt.js resends it in the resumed session.
        await this.o.connection.publish(
          topics.telemetry(this.o.deviceId),
          telemetryWindowPayload.encode(window),
          channelDelivery.telemetry,
        );
        await this.#queue.ack(id);
        this.#sent++;
        this.o.metrics.telemetryQueued.set(this.#queue.stats().entries);
      }
    }
  }

  /**
   * Stops the timer and stores the partial window if it counted anything. A drain in flight ends
   * when the connection stops; `drained()` waits for that.
   */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.o.bus.removeListeners(this);
    if (this.#window && this.#window.inferences > 0) {
      await this.closeWindow().catch((err) =>
        this.o.logger.error('telemetry.flush_failed', errorFields(err)),
      );
    }
    this.#stopped = true;
    this.#window = null;
  }

  /** Stops like a crash would: the partial window in memory is lost, the queue on disk stays. */
  abandon(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.o.bus.removeListeners(this);
    this.#stopped = true;
    this.#window = null;
  }

  async drained(): Promise<void> {
    await this.#draining;
  }
}
