// The agent's one MQTT connection (mqtt.js): the device's credentials, a persistent session so QoS 1
// messages and subscriptions survive outages, a retained `offline` last will and `online` birth with
// the same boot id, and reconnects with exponential backoff and jitter.
//
// mqtt.js only reconnects on a fixed interval (MQTT.js issue #561), so automatic reconnects are off
// (`reconnectPeriod: 0`) and this class schedules `reconnect()` itself. MQTT 5 is tried first (for
// the session expiry interval); a broker that refuses it (aedes, old Mosquitto) gets MQTT 3.1.1,
// where `clean: false` alone keeps the session.
import { randomBytes } from 'node:crypto';
import {
  channelDelivery,
  type DeviceStatus,
  deviceStatusPayload,
  EdgeloopError,
  topics,
} from '@edgeloop/shared';
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt';
import type { AgentEventBus } from './event-bus.ts';
import { type AgentLogger, errorFields, silentLogger } from './log.ts';

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

/**
 * Delay before reconnect attempt `attempt` (0-based): the exponential ceiling doubled per attempt and
 * capped, of which half is fixed and half random ("equal jitter"): never a reconnect storm when a
 * broker restarts under a fleet, never a zero wait.
 */
export function reconnectDelayMs(attempt: number, backoff: BackoffOptions, random = Math.random): number {
  const ceiling = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** A fresh boot id for each agent start; the cloud tells a stale last will from a new boot by it. */
export function newBootId(): string {
  return randomBytes(9).toString('base64url');
}

/** Matches a concrete topic against an MQTT filter with `+` and `#` wildcards. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}

export type MessageHandler = (topic: string, payload: Buffer) => void | Promise<void>;

export interface AgentConnectionOptions {
  url: string;
  deviceId: string;
  password: string;
  agentVersion: string;
  profileId: string;
  bootId: string;
  keepaliveSeconds: number;
  /** MQTT 5 session expiry: how long the broker keeps our subscriptions and queued QoS 1 messages. */
  sessionExpirySeconds: number;
  protocol: 'auto' | 4 | 5;
  backoff: BackoffOptions;
  connectTimeoutMs: number;
  /**
   * A SUBSCRIBE unanswered this long on a live connection drops the connection (default three
   * keep-alive periods). Generous on purpose: a broker under a rollout's load can take tens of
   * seconds, and reconnecting a fleet at once makes that worse; the point is to never wait forever.
   */
  subackTimeoutMs?: number;
  random?: () => number;
  now?: () => number;
  logger?: AgentLogger;
}

// CONNACK codes meaning "this broker does not speak the protocol version you asked for".
const UNSUPPORTED_PROTOCOL = new Set([1, 0x84]);

export class AgentConnection {
  readonly #bus: AgentEventBus;
  readonly #log: AgentLogger;
  readonly #handlers = new Map<string, MessageHandler>();
  /** Filters added while offline (or whose SUBACK never came): subscribed on the next connect. */
  readonly #unconfirmed = new Set<string>();
  readonly #pending = new Set<(err: Error) => void>();
  #client: MqttClient | null = null;
  #protocol: 4 | 5;
  #attempt = 0;
  #reconnects = 0;
  #reconnectTimer: NodeJS.Timeout | null = null;
  #firstSession = true;
  #stopped = false;
  #connected = false;

  constructor(
    readonly options: AgentConnectionOptions,
    bus: AgentEventBus,
  ) {
    this.#bus = bus;
    this.#log = options.logger ?? silentLogger;
    this.#protocol = options.protocol === 4 ? 4 : 5;
  }

  get connected(): boolean {
    return this.#connected;
  }

  get protocolVersion(): 4 | 5 {
    return this.#protocol;
  }

  /** Starts connecting in the background; the agent serves local inference whether or not this succeeds. */
  start(): void {
    if (this.#client) return;
    this.#stopped = false;
    this.#open();
  }

  #status(state: DeviceStatus['state']): Buffer {
    return Buffer.from(
      deviceStatusPayload.encode({
        v: 1,
        state,
        agentVersion: this.options.agentVersion,
        profile: this.options.profileId,
        bootId: this.options.bootId,
        at: (this.options.now ?? Date.now)(),
      }),
    );
  }

  #clientOptions(): IClientOptions {
    const { deviceId, password, keepaliveSeconds, sessionExpirySeconds, connectTimeoutMs } = this.options;
    return {
      protocolVersion: this.#protocol,
      clientId: deviceId,
      username: deviceId,
      password,
      clean: false,
      keepalive: keepaliveSeconds,
      connectTimeout: connectTimeoutMs,
      reconnectPeriod: 0,
      // We resubscribe ourselves: mqtt.js skips it when the broker says the session is present, but a
      // new process must resubscribe anyway to receive the retained desired state again.
      resubscribe: false,
      ...(this.#protocol === 5 ? { properties: { sessionExpiryInterval: sessionExpirySeconds } } : {}),
      will: {
        topic: topics.status(deviceId),
        payload: this.#status('offline'),
        qos: channelDelivery.status.qos,
        retain: channelDelivery.status.retain,
      },
    };
  }

  #open(): void {
    const client = mqtt.connect(this.options.url, this.#clientOptions());
    this.#client = client;
    client.on('connect', (connack) => void this.#onConnect(client, connack));
    client.on('close', () => this.#onClose(client));
    client.on('error', (err: Error & { code?: unknown }) => this.#onError(client, err));
    client.on('message', (topic, payload) => this.#dispatch(topic, payload));
  }

  async #onConnect(client: MqttClient, connack: IConnackPacket): Promise<void> {
    if (client !== this.#client || this.#stopped) return;
    this.#attempt = 0;
    const sessionPresent = connack.sessionPresent === true;
    try {
      const birth = channelDelivery.status;
      await client.publishAsync(topics.status(this.options.deviceId), this.#status('online'), birth);
      const filters =
        !sessionPresent || this.#firstSession ? [...this.#handlers.keys()] : [...this.#unconfirmed];
      // Filters added while we await a SUBACK are not in that batch: the loop takes them next, and
      // nothing awaits between its last check and `#connected = true` below, so none slips through.
      for (let batch = filters; batch.length > 0; batch = [...this.#unconfirmed]) {
        for (const filter of batch) this.#unconfirmed.delete(filter);
        await this.#answeredInTime(client, client.subscribeAsync(batch, { qos: 1 }), 'SUBACK').catch(
          (err: unknown) => {
            for (const filter of batch) if (this.#handlers.has(filter)) this.#unconfirmed.add(filter);
            throw err;
          },
        );
      }
      this.#firstSession = false;
    } catch (err) {
      // The connection dropped while we set it up: the close handler reconnects and we start over.
      this.#log.warn('mqtt.session_setup_failed', errorFields(err));
      return;
    }
    if (!client.connected) return;
    this.#connected = true;
    this.#log.info('mqtt.connected', {
      sessionPresent,
      protocol: this.#protocol,
      reconnects: this.#reconnects,
    });
    this.#bus.emit('connected', { sessionPresent, reconnects: this.#reconnects });
  }

  #onClose(client: MqttClient): void {
    if (client !== this.#client) return;
    if (this.#connected) {
      this.#connected = false;
      this.#bus.emit('disconnected', { reason: 'connection closed' });
    }
    if (this.#stopped || this.#reconnectTimer) return;
    const delay = reconnectDelayMs(this.#attempt++, this.options.backoff, this.options.random);
    this.#log.info('mqtt.reconnect_scheduled', { delayMs: delay, attempt: this.#attempt });
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      if (this.#stopped) return;
      this.#reconnects++;
      // Keep the stores: they hold unacknowledged QoS 1 publishes, resent in the resumed session.
      // (reconnect() without them would swap in empty stores and lose those messages.)
      client.options.will = this.#clientOptions().will;
      client.reconnect({ incomingStore: client.incomingStore, outgoingStore: client.outgoingStore });
    }, delay);
  }

  #onError(client: MqttClient, err: Error & { code?: unknown }): void {
    if (client !== this.#client) return;
    if (
      this.options.protocol === 'auto' &&
      this.#protocol === 5 &&
      UNSUPPORTED_PROTOCOL.has(Number(err.code))
    ) {
      this.#log.info('mqtt.protocol_fallback', { from: 5, to: 4 });
      this.#protocol = 4;
      client.removeAllListeners();
      client.on('error', () => undefined);
      client.end(true);
      this.#open();
      return;
    }
    this.#log.warn('mqtt.error', errorFields(err));
  }

  async #dispatch(topic: string, payload: Buffer): Promise<void> {
    for (const [filter, handler] of this.#handlers) {
      if (!topicMatches(filter, topic)) continue;
      // The one try/catch of the MQTT dispatcher: a failing handler is logged, never fatal.
      try {
        await handler(topic, payload);
      } catch (err) {
        this.#log.error('mqtt.handler_failed', { topic, ...errorFields(err) });
      }
    }
  }

  /** Subscribes now when connected, and again whenever a new session needs it. */
  async subscribe(filter: string, handler: MessageHandler): Promise<void> {
    this.#handlers.set(filter, handler);
    this.#unconfirmed.add(filter);
    const client = this.#client;
    if (client && this.#connected) {
      try {
        await this.#answeredInTime(client, client.subscribeAsync(filter, { qos: 1 }), 'SUBACK');
        this.#unconfirmed.delete(filter);
      } catch (err) {
        // Connection lost before the SUBACK: the filter stays unconfirmed and goes out on reconnect.
        this.#log.warn('mqtt.subscribe_deferred', { filter, ...errorFields(err) });
      }
    }
  }

  /**
   * `request` unless the broker leaves it unanswered for `subackTimeoutMs` on a connection that
   * looks alive: then the session is taken as broken (seen: an overloaded broker that never sent a
   * SUBACK, leaving a download waiting forever) and the socket is dropped, so the reconnect sets the
   * session up again and resubscribes what is unconfirmed.
   */
  #answeredInTime<T>(client: MqttClient, request: Promise<T>, what: string): Promise<T> {
    const timeoutMs = this.options.subackTimeoutMs ?? this.options.keepaliveSeconds * 3_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        if (client === this.#client && client.connected) {
          this.#log.warn('mqtt.unanswered', { what, timeoutMs });
          client.stream.destroy();
        }
        reject(new EdgeloopError('TIMEOUT', `no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
    });
    return Promise.race([request, timeout]).finally(() => clearTimeout(timer));
  }

  async unsubscribe(filter: string): Promise<void> {
    if (!this.#handlers.delete(filter)) return;
    this.#unconfirmed.delete(filter);
    const client = this.#client;
    if (client && this.#connected) await client.unsubscribeAsync(filter).catch(() => undefined);
  }

  /**
   * Publishes and resolves once the broker acknowledged it (PUBACK for QoS 1). While offline the
   * message waits in mqtt.js' outgoing store and goes out in the resumed session. Rejects with
   * UNAVAILABLE when the connection is stopped first.
   */
  publish(topic: string, payload: Uint8Array, delivery: { qos: 0 | 1; retain: boolean }): Promise<void> {
    const client = this.#client;
    if (!client || this.#stopped) {
      return Promise.reject(new EdgeloopError('UNAVAILABLE', 'MQTT connection is stopped'));
    }
    return new Promise<void>((resolve, reject) => {
      const abandon = (err: Error) => reject(err);
      this.#pending.add(abandon);
      client.publish(
        topic,
        Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
        delivery,
        (err) => {
          this.#pending.delete(abandon);
          if (err)
            reject(
              new EdgeloopError('UNAVAILABLE', `publish to ${topic} failed: ${err.message}`, { cause: err }),
            );
          else resolve();
        },
      );
    });
  }

  /**
   * Graceful: publishes the retained `offline` status (a clean DISCONNECT suppresses the last will)
   * and disconnects. `graceful: false` drops the socket like a crash, so the broker sends the will.
   */
  async stop(options: { graceful?: boolean } = {}): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    const client = this.#client;
    const graceful = options.graceful ?? true;
    const wasConnected = this.#connected;
    if (client && graceful && wasConnected) {
      await Promise.race([
        client.publishAsync(
          topics.status(this.options.deviceId),
          this.#status('offline'),
          channelDelivery.status,
        ),
        new Promise((resolve) => setTimeout(resolve, 2000).unref()),
      ]).catch(() => undefined);
    }
    this.#connected = false;
    for (const abandon of this.#pending) abandon(new EdgeloopError('UNAVAILABLE', 'MQTT connection stopped'));
    this.#pending.clear();
    if (client) {
      // A clean end sends DISCONNECT once mqtt.js' in-flight publishes are acknowledged; they may never
      // be (broker gone), so after a moment the socket is simply dropped.
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          client.stream?.destroy();
          resolve();
        }, 1000);
        client.end(!(graceful && wasConnected), {}, () => {
          clearTimeout(force);
          resolve();
        });
      });
      client.removeAllListeners();
      client.on('error', () => undefined);
    }
    this.#client = null;
  }
}
