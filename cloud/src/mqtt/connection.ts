import { randomBytes } from 'node:crypto';
import { EdgeloopError } from '@edgeloop/shared';
import mqtt, {
  type IClientOptions,
  type IConnackPacket,
  type ISubscriptionGrant,
  type MqttClient,
} from 'mqtt';
import { type Logger, silentLogger } from './observability.ts';
import { MessageRouter } from './router.ts';

/**
 * The cloud's one MQTT connection, to the embedded broker or an external one (`MQTT_URL`). It speaks
 * MQTT 5 where the broker does (shared subscriptions for telemetry) and falls back to 3.1.1 (aedes),
 * reconnects with capped exponential backoff and jitter, and closes cleanly.
 */
export interface CloudMqttOptions {
  /** mqtt://, mqtts://, ws:// or wss:// */
  url: string;
  username?: string;
  password?: string;
  /** Default `edgeloop-cloud-<random>`: every cloud process needs its own session. */
  clientId?: string;
  /**
   * Keep the session (clean: false) under a stable `clientId`, so QoS 1 messages published while this
   * process restarts wait at the broker instead of being lost (devices count them acknowledged).
   * Packets replayed before the features register are parked until `messages.startRouting()`. On
   * MQTT 5 the session expires after `expirySeconds` (default 1 h) once the process is gone for good.
   */
  persistentSession?: { expirySeconds?: number };
  /** 'auto' tries MQTT 5, then 3.1.1 if the broker refuses the protocol version. */
  protocol?: 'auto' | 5 | 4;
  /** Reconnect backoff: first delay, cap (ms). */
  backoff?: { initialMs?: number; maxMs?: number };
  /** How long the first connection may take before start-up fails. */
  connectTimeoutMs?: number;
  logger?: Logger;
}

export interface CloudMqttConnection {
  readonly client: MqttClient;
  /** Where features register the topics they consume; the only user of `client.handleMessage`. */
  readonly messages: MessageRouter;
  readonly protocolVersion: 4 | 5;
  /** `$share/<group>/…` works only on MQTT 5 brokers (and not on aedes). */
  readonly supportsSharedSubscriptions: boolean;
  publish(
    topic: string,
    payload: Uint8Array | string,
    options: { qos: 0 | 1; retain: boolean },
  ): Promise<void>;
  subscribe(filters: string[], qos: 0 | 1): Promise<ISubscriptionGrant[]>;
  close(): Promise<void>;
}

export class MqttConnectionError extends EdgeloopError {
  constructor(code: 'UNAVAILABLE' | 'UNAUTHENTICATED' | 'TIMEOUT', message: string, cause?: unknown) {
    super(code, message, { cause });
    this.name = 'MqttConnectionError';
  }
}

/** CONNACK codes meaning "I don't speak that protocol version" in 3.1.1 (1) and 5 (132). */
const UNSUPPORTED_PROTOCOL = new Set([1, 132]);
const BAD_CREDENTIALS = new Set([4, 5, 134, 135]);

export async function connectCloudMqtt(options: CloudMqttOptions): Promise<CloudMqttConnection> {
  const protocol = options.protocol ?? 'auto';
  if (protocol === 4) return open(options, 4);
  try {
    return await open(options, 5);
  } catch (err) {
    if (
      protocol === 'auto' &&
      err instanceof MqttConnectionError &&
      UNSUPPORTED_PROTOCOL.has(connackCode(err))
    ) {
      (options.logger ?? silentLogger).info(
        { event: 'mqtt.protocol_fallback', url: redact(options.url) },
        'broker refused MQTT 5; using 3.1.1',
      );
      return open(options, 4);
    }
    throw err;
  }
}

async function open(options: CloudMqttOptions, protocolVersion: 4 | 5): Promise<CloudMqttConnection> {
  const logger = options.logger ?? silentLogger;
  const initialMs = options.backoff?.initialMs ?? 500;
  const maxMs = options.backoff?.maxMs ?? 30_000;
  const clientOptions: IClientOptions = {
    protocolVersion,
    clientId: options.clientId ?? `edgeloop-cloud-${randomBytes(6).toString('hex')}`,
    username: options.username,
    password: options.password,
    clean: !options.persistentSession,
    ...(options.persistentSession && protocolVersion === 5
      ? { properties: { sessionExpiryInterval: options.persistentSession.expirySeconds ?? 3600 } }
      : {}),
    reconnectPeriod: initialMs,
    connectTimeout: options.connectTimeoutMs ?? 10_000,
    // A refused CONNACK (bad credentials) is a configuration error: retrying would hammer the broker.
    reconnectOnConnackError: false,
  };
  const client = mqtt.connect(options.url, clientOptions);
  // Installed before any packet can arrive (a resumed session replays at once).
  const messages = new MessageRouter(client, { parkUntilStarted: options.persistentSession !== undefined });
  const url = redact(options.url);

  const connack = await new Promise<IConnackPacket>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        fail(
          new MqttConnectionError(
            'TIMEOUT',
            `no MQTT connection to ${url} within ${clientOptions.connectTimeout} ms`,
          ),
        ),
      clientOptions.connectTimeout,
    );
    const onConnect = (packet: IConnackPacket) => {
      cleanup();
      resolve(packet);
    };
    const onError = (err: Error & { code?: unknown }) => {
      const code = typeof err.code === 'number' ? err.code : undefined;
      if (code === undefined) return; // socket errors: mqtt.js retries until the timeout above
      fail(
        new MqttConnectionError(
          BAD_CREDENTIALS.has(code) ? 'UNAUTHENTICATED' : 'UNAVAILABLE',
          `MQTT broker ${url} refused the connection: ${err.message}`,
          err,
        ),
      );
    };
    const fail = (err: MqttConnectionError) => {
      cleanup();
      client.end(true);
      reject(err);
    };
    const cleanup = () => {
      clearTimeout(timer);
      client.off('connect', onConnect);
      client.off('error', onError);
    };
    client.on('connect', onConnect);
    client.on('error', onError);
  });

  installBackoff(client, initialMs, maxMs);
  client.on('offline', () =>
    logger.warn({ event: 'mqtt.offline', url }, 'MQTT connection lost; reconnecting'),
  );
  client.on('connect', () =>
    logger.info({ event: 'mqtt.reconnected', url }, 'MQTT connection re-established'),
  );
  client.on('error', (err) =>
    logger.error({ event: 'mqtt.error', url, err: err.message }, 'MQTT client error'),
  );

  let closing: Promise<void> | undefined;
  return {
    client,
    messages,
    protocolVersion,
    // MQTT 5 brokers announce `Shared Subscription Available` in CONNACK; absent means available.
    supportsSharedSubscriptions:
      protocolVersion === 5 && connack.properties?.sharedSubscriptionAvailable !== false,
    async publish(topic, payload, { qos, retain }) {
      await client.publishAsync(
        topic,
        typeof payload === 'string'
          ? payload
          : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
        { qos, retain },
      );
    },
    async subscribe(filters, qos) {
      return client.subscribeAsync(filters, { qos });
    },
    close() {
      closing ??= client.endAsync().catch(() => client.endAsync(true));
      return closing;
    },
  };
}

/**
 * mqtt.js reconnects on a fixed interval (MQTT.js issue #561 asks for backoff). After each attempt we
 * stretch the interval (doubling, capped, with jitter so a restarted broker is not hit by every cloud
 * process at once) and re-arm mqtt.js' timer; a successful connect resets it.
 */
function installBackoff(client: MqttClient, initialMs: number, maxMs: number): void {
  const timer = client as unknown as { _clearReconnect?: () => void; _setupReconnect?: () => void };
  let next = initialMs;
  client.on('reconnect', () => {
    next = Math.min(maxMs, next * 2);
    client.options.reconnectPeriod = Math.round(next * (0.8 + Math.random() * 0.4));
    if (typeof timer._clearReconnect === 'function' && typeof timer._setupReconnect === 'function') {
      timer._clearReconnect();
      timer._setupReconnect();
    }
  });
  client.on('connect', () => {
    next = initialMs;
    client.options.reconnectPeriod = initialMs;
  });
}

function connackCode(err: MqttConnectionError): number {
  const cause = err.cause as { code?: unknown } | undefined;
  return typeof cause?.code === 'number' ? cause.code : -1;
}

/** Never log a password embedded in a URL. */
function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
