import { EventEmitter } from 'node:events';
import {
  channelDelivery,
  channelPayloads,
  type DesiredState,
  type DesiredStateInput,
  type DeviceStatus,
  desiredStatePayload,
  EdgeloopError,
  type ReportedState,
  type TelemetryWindow,
  topicFilters,
  topics,
  tryParseTopic,
} from '@edgeloop/shared';
import type { IPublishPacket } from 'mqtt';
import { Registry } from 'prom-client';
import { forEachConcurrently } from '../concurrency.ts';
import type { Db } from '../db/index.ts';
import type { CloudMqttConnection } from './connection.ts';
import { type DeadLetter, DeadLetterSink } from './dead-letters.ts';
import { type DesiredEntry, DeviceStateStore } from './device-state.ts';
import { type Logger, sharedCounter, silentLogger } from './observability.ts';
import { ReportedStateWriter } from './reported-writer.ts';
import type { RouteRegistration } from './router.ts';
import { compileFilter } from './topic-filter.ts';

/** What the bridge tells the rest of the cloud (ingestion, rollouts) about devices. */
export interface MqttBridgeEvents {
  telemetry: [deviceId: string, window: TelemetryWindow];
  reported: [deviceId: string, reported: ReportedState];
  status: [deviceId: string, status: DeviceStatus];
  rejected: [letter: Omit<DeadLetter, 'raw'> & { bytes: number }];
}

export interface MqttBridgeOptions {
  connection: CloudMqttConnection;
  db: Db;
  /** MQTT 5 shared-subscription group for telemetry, so several cloud processes split the load. */
  shareGroup?: string;
  /** Re-publish every stored desired state on start (an in-memory broker forgets retained messages). */
  republishOnStart?: boolean;
  logger?: Logger;
  registry?: Registry;
  /** Raw bytes kept per dead letter (default 2 KiB) and dead letters stored per second (default 20). */
  deadLetters?: { rawLimit?: number; perSecond?: number };
  /** Telemetry refreshes `last_seen_at` at most this often per device (default 30 s). */
  lastSeenIntervalMs?: number;
  now?: () => number;
}

type ConsumedChannel = 'status' | 'reported' | 'telemetry';

/** A topic one of the bridge's filters matched; `deviceId` null: not a valid device topic. */
interface ConsumedTopic {
  channel: ConsumedChannel;
  deviceId: string | null;
}

/** Valid device topics remembered (a few per device); past this the memo starts over. */
const TOPIC_MEMO_LIMIT = 100_000;

export class BridgeError extends EdgeloopError {}

/** Desired-state publishes awaiting their PUBACK at once in `publishDesiredMany`. */
const DESIRED_PUBLISH_CONCURRENCY = 512;

/** What became of one device's desired state in `publishDesiredMany`. */
export type DesiredPublishResult =
  | { deviceId: string; ok: true; state: DesiredState }
  | { deviceId: string; ok: false; error: Error };

/**
 * The cloud side of the MQTT contract: publishes desired state (retained, QoS 1) and consumes
 * status, reported and telemetry. Every message is validated with the shared codecs; anything
 * refused goes to `dead_letters` with a stable code and never reaches the listeners.
 */
export class MqttBridge extends EventEmitter<MqttBridgeEvents> {
  private readonly connection: CloudMqttConnection;
  private readonly logger: Logger;
  private readonly store: DeviceStateStore;
  private readonly sink: DeadLetterSink;
  private readonly now: () => number;
  private readonly messages;
  private readonly lastTouched = new Map<string, number>();
  /** last_seen_at refreshes not yet written, and the write in flight (one at a time). */
  private pendingTouches = new Map<string, Date>();
  private touching: Promise<void> | undefined;
  /** `matches`: the filter compiled, without its `$share/<group>/` prefix, as topics arrive. */
  private readonly filters: Array<{
    filter: string;
    matches: (topic: string) => boolean;
    channel: ConsumedChannel;
  }>;
  /** Topic → channel and device id, so a device's every window skips matching and parsing. */
  private readonly consumedTopics = new Map<string, ConsumedTopic>();
  private route: RouteRegistration | undefined;
  private readonly reported: ReportedStateWriter;
  /** Withholds acknowledgements while too many reported states wait for their write. */
  private reportedHold: RouteRegistration | undefined;

  constructor(private readonly options: MqttBridgeOptions) {
    super();
    this.connection = options.connection;
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
    this.store = new DeviceStateStore(options.db);
    const registry = options.registry ?? new Registry();
    this.messages = sharedCounter(
      registry,
      'edgeloop_mqtt_bridge_messages_total',
      'Device messages consumed by the cloud bridge',
      ['channel', 'outcome'],
    );
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
    this.reported = new ReportedStateWriter({
      store: this.store,
      logger: this.logger,
      onWritten: (r) => this.accept('reported', () => this.emit('reported', r.deviceId, r.reported)),
      onUnknown: (r) =>
        void this.reject(
          letter(
            r.topic,
            r.deviceId,
            'reported',
            'NOT_FOUND',
            `reported state from unprovisioned device ${r.deviceId}`,
            r.raw,
          ),
        ),
    });
    const telemetry = this.connection.supportsSharedSubscriptions
      ? topicFilters.shared(options.shareGroup ?? 'ingest', 'telemetry')
      : topicFilters.allDevices('telemetry');
    this.filters = (
      [
        { filter: topicFilters.allDevices('status'), channel: 'status' },
        { filter: topicFilters.allDevices('reported'), channel: 'reported' },
        { filter: telemetry, channel: 'telemetry' },
      ] as const
    ).map((f) => ({ ...f, matches: compileFilter(f.filter) }));
  }

  /** Subscribes and starts consuming; with `republishOnStart`, restores retained desired states. */
  async start(): Promise<void> {
    if (this.route) return; // already consuming
    // The router holds the PUBACK until we are done: backpressure instead of an unbounded queue.
    this.route = this.connection.messages.consume({
      filters: this.filters.map((f) => f.filter),
      handle: (packet) => this.consume(packet),
      onError: (packet, err) =>
        this.logger.error(
          { event: 'mqtt.bridge_failed', topic: packet.topic, err: String(err) },
          'bridge could not process a message',
        ),
    });
    this.reportedHold ??= this.connection.messages.holdAcks(() => this.reported.room());
    const granted = await this.connection.subscribe(
      this.filters.map((f) => f.filter),
      1,
    );
    const refused = granted.filter((g) => g.qos === 128);
    if (refused.length > 0) {
      throw new BridgeError(
        'FORBIDDEN',
        `broker refused the bridge subscriptions ${refused.map((g) => g.topic).join(', ')}`,
      );
    }
    if (this.options.republishOnStart ?? true) await this.republishAllDesired();
  }

  async stop(): Promise<void> {
    const client = this.connection.client;
    this.route?.remove();
    this.route = undefined;
    // A persistent session keeps its subscriptions: the broker holds what arrives until it resumes.
    if (client.connected && client.options.clean !== false)
      await client.unsubscribeAsync(this.filters.map((f) => f.filter)).catch(() => undefined);
    await this.reported.drain(Date.now() + 10_000);
    this.reportedHold?.remove();
    this.reportedHold = undefined;
    await this.flushTouches();
  }

  /**
   * Assigns the next generation, stores and publishes a device's desired state (retained, QoS 1).
   * Resolves once the broker acknowledged it.
   */
  async publishDesired(
    deviceId: string,
    desired: Omit<DesiredStateInput, 'v' | 'generation' | 'issuedAt'>,
  ): Promise<DesiredState> {
    const { state, bytes } = await this.store.storeDesired(deviceId, desired, new Date(this.now()));
    await this.connection.publish(topics.desired(deviceId), bytes, channelDelivery.desired);
    return state;
  }

  /**
   * `publishDesired` for many devices: stored in one transaction (`storeDesiredMany`), then published
   * with up to `DESIRED_PUBLISH_CONCURRENCY` awaiting their PUBACK. Each device succeeds or fails on
   * its own (unknown device, invalid desired state, publish refused); results are in input order.
   */
  async publishDesiredMany(entries: readonly DesiredEntry[]): Promise<DesiredPublishResult[]> {
    const stored = await this.store.storeDesiredMany(entries, new Date(this.now()));
    const results: DesiredPublishResult[] = new Array(entries.length);
    await forEachConcurrently(entries, DESIRED_PUBLISH_CONCURRENCY, async ({ deviceId }, i) => {
      const outcome = stored[i] as (typeof stored)[number];
      if (!outcome.ok) {
        results[i] = { deviceId, ok: false, error: outcome.error };
        return;
      }
      try {
        await this.connection.publish(topics.desired(deviceId), outcome.bytes, channelDelivery.desired);
        results[i] = { deviceId, ok: true, state: outcome.state };
      } catch (err) {
        results[i] = { deviceId, ok: false, error: err instanceof Error ? err : new Error(String(err)) };
      }
    });
    return results;
  }

  /** Publishes every stored desired state again (same generation: devices treat it as a no-op). */
  async republishAllDesired(): Promise<number> {
    let count = 0;
    for (const { deviceId, desired } of await this.store.allDesired()) {
      const checked = desiredStatePayload.check(desired);
      if (!checked.ok) {
        this.logger.error(
          { event: 'mqtt.desired_corrupt', deviceId, reason: checked.error.reason },
          'stored desired state is invalid; not republished',
        );
        continue;
      }
      await this.connection.publish(
        topics.desired(deviceId),
        desiredStatePayload.encode(checked.value),
        channelDelivery.desired,
      );
      count++;
    }
    return count;
  }

  private consumedTopic(topic: string): ConsumedTopic | undefined {
    const known = this.consumedTopics.get(topic);
    if (known) return known;
    const channel = this.filters.find((f) => f.matches(topic))?.channel;
    if (!channel) return undefined; // the router only hands us our own filters
    const parsed = tryParseTopic(topic);
    if (parsed?.kind !== 'device') return { channel, deviceId: null };
    const consumed = { channel, deviceId: parsed.deviceId };
    if (this.consumedTopics.size >= TOPIC_MEMO_LIMIT) this.consumedTopics.clear();
    this.consumedTopics.set(topic, consumed);
    return consumed;
  }

  /** Undefined when handled synchronously (a valid window from a known device): no promise. */
  private consume(packet: IPublishPacket): Promise<void> | undefined {
    const consumed = this.consumedTopic(packet.topic);
    if (!consumed) return undefined;
    const { channel, deviceId } = consumed;
    const raw = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    if (deviceId === null) {
      return this.reject({
        topic: packet.topic,
        deviceId: null,
        channel,
        code: 'TOPIC_INVALID',
        reason: 'not a valid device topic',
        raw,
      });
    }
    // An empty retained message is how a retained topic is cleared: nothing to validate or store.
    if (raw.byteLength === 0 && channelDelivery[channel].retain) {
      this.messages.inc({ channel, outcome: 'cleared' });
      return undefined;
    }
    if (channel === 'telemetry') return this.consumeTelemetry(packet.topic, deviceId, raw);
    return this.consumeState(packet.topic, deviceId, channel, raw);
  }

  private consumeTelemetry(topic: string, deviceId: string, raw: Uint8Array): Promise<void> | undefined {
    const at = this.now();
    const decoded = channelPayloads.telemetry.decode(raw);
    if (!decoded.ok) {
      return this.reject(letter(topic, deviceId, 'telemetry', decoded.error.code, decoded.error.reason, raw));
    }
    const window = decoded.value;
    if (window.deviceId !== deviceId) {
      return this.reject(
        letter(
          topic,
          deviceId,
          'telemetry',
          'DEVICE_MISMATCH',
          `payload deviceId ${JSON.stringify(window.deviceId)} on ${deviceId}'s topic`,
          raw,
        ),
      );
    }
    if (this.store.isKnown(deviceId)) {
      this.acceptTelemetry(deviceId, window, at);
      return undefined;
    }
    return this.store
      .exists(deviceId)
      .then((exists) =>
        exists
          ? this.acceptTelemetry(deviceId, window, at)
          : this.reject(
              letter(
                topic,
                deviceId,
                'telemetry',
                'NOT_FOUND',
                `telemetry from unprovisioned device ${deviceId}`,
                raw,
              ),
            ),
      );
  }

  private acceptTelemetry(deviceId: string, window: TelemetryWindow, at: number): void {
    this.touchThrottled(deviceId, at);
    this.messages.inc({ channel: 'telemetry', outcome: 'accepted' });
    try {
      this.emit('telemetry', deviceId, window);
    } catch (err) {
      this.listenerFailed('telemetry', err);
    }
  }

  private async consumeState(
    topic: string,
    deviceId: string,
    channel: 'status' | 'reported',
    raw: Uint8Array,
  ): Promise<void> {
    const refuse = (code: string, reason: string) =>
      this.reject(letter(topic, deviceId, channel, code, reason, raw));
    const at = new Date(this.now());
    if (channel === 'status') {
      const decoded = channelPayloads.status.decode(raw);
      if (!decoded.ok) return refuse(decoded.error.code, decoded.error.reason);
      const outcome = await this.store.applyStatus(deviceId, decoded.value, at);
      if (outcome === 'unknown') return refuse('NOT_FOUND', `status from unprovisioned device ${deviceId}`);
      if (outcome === 'stale') {
        this.messages.inc({ channel, outcome: 'stale' });
        this.logger.info(
          { event: 'mqtt.stale_status', deviceId, bootId: decoded.value.bootId },
          'ignored offline status from an earlier boot',
        );
        return;
      }
      this.accept(channel, () => this.emit('status', deviceId, decoded.value));
      return;
    }
    const decoded = channelPayloads.reported.decode(raw);
    if (!decoded.ok) return refuse(decoded.error.code, decoded.error.reason);
    // Written in a batch with the others queued meanwhile (reported-writer.ts); listeners hear of it then.
    this.reported.offer({ deviceId, reported: decoded.value, at, topic, raw });
  }

  private accept(channel: ConsumedChannel, notify: () => void): void {
    this.messages.inc({ channel, outcome: 'accepted' });
    try {
      notify();
    } catch (err) {
      this.listenerFailed(channel, err);
    }
  }

  /** A listener's bug must not stall the MQTT pipeline or turn a good message into a dead letter. */
  private listenerFailed(channel: ConsumedChannel, err: unknown): void {
    this.logger.error({ event: 'mqtt.listener_failed', channel, err: String(err) }, 'bridge listener threw');
  }

  private async reject(letter: DeadLetter): Promise<void> {
    this.messages.inc({ channel: letter.channel, outcome: 'rejected' });
    await this.sink.record(letter);
    const { raw, ...info } = letter;
    this.emit('rejected', { ...info, bytes: raw.byteLength });
  }

  /**
   * Queues a last_seen_at refresh; it is written with the others queued meanwhile, in one statement,
   * off the message path. Awaiting one UPDATE per window (a device sends one a minute, so nearly every
   * window is due a refresh) serialised a database round trip into every acknowledgement.
   */
  private touchThrottled(deviceId: string, at: number): void {
    const last = this.lastTouched.get(deviceId);
    if (last !== undefined && at - last < (this.options.lastSeenIntervalMs ?? 30_000)) return;
    this.lastTouched.set(deviceId, at);
    this.pendingTouches.set(deviceId, new Date(at));
    this.touching ??= this.writeTouches();
  }

  private async writeTouches(): Promise<void> {
    // Let the messages already parsed join this batch.
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.pendingTouches.size > 0) {
      const batch = this.pendingTouches;
      this.pendingTouches = new Map();
      try {
        await this.store.touchMany(batch);
      } catch (err) {
        // Best effort, like any presence signal: the next window refreshes it again.
        this.logger.warn(
          { event: 'mqtt.last_seen_failed', devices: batch.size, err: String(err) },
          'could not refresh last_seen_at',
        );
      }
    }
    this.touching = undefined;
  }

  /** Resolves once every queued last_seen_at refresh is written (tests, shutdown). */
  async flushTouches(): Promise<void> {
    while (this.touching) await this.touching;
  }
}

function letter(
  topic: string,
  deviceId: string,
  channel: ConsumedChannel,
  code: string,
  reason: string,
  raw: Uint8Array,
): DeadLetter {
  return { topic, deviceId, channel, code, reason, raw };
}
