import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { EdgeloopError } from '@edgeloop/shared';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import { Registry } from 'prom-client';
import { createWebSocketStream, WebSocketServer } from 'ws';
import type { AuthRejectionCode, BrokerAuthenticator } from '../identity/authenticator.ts';
import { type Principal, principalName } from '../identity/principal.ts';
import { type AclRejection, canPublish, canSubscribe } from './acl.ts';
import { type Logger, sharedCounter, silentLogger } from './observability.ts';

/**
 * The broker `pnpm start` runs in-process: aedes on TCP (and WebSocket for browsers), with every
 * CONNECT authenticated through the identity registry and every PUBLISH / SUBSCRIBE checked by the
 * same rules (`acl.ts`) that the generated Mosquitto ACL expresses for an external broker.
 *
 * aedes speaks MQTT 3.1.1 only, so refusals use what 3.1.1 has: CONNACK return codes for logins,
 * a SUBACK failure (0x80) for subscriptions, and for a publish the connection is closed (3.1.1 has
 * no negative PUBACK). Every refusal is counted and logged; none changes broker state.
 */
export interface EmbeddedBrokerOptions {
  authenticator: BrokerAuthenticator;
  /** TCP port; 0 picks a free one (read it back from `port`). Default 1883. */
  port?: number;
  /** Default 127.0.0.1: exposing the broker is a deliberate choice. */
  host?: string;
  /** WebSocket port for browsers; omitted = no WebSocket listener; 0 = a free one. */
  websocketPort?: number;
  logger?: Logger;
  registry?: Registry;
  /**
   * Devices wait at CONNECT until `admitDevices()`. The cloud calls it once its own subscriptions
   * are in place: after a restart, the windows devices flush from their queues are then never
   * acknowledged by a broker with nobody subscribed (aedes drops those). A device not admitted
   * within `timeoutMs` (default 10 s) is refused with CONNACK 3, server unavailable, and retries.
   */
  holdDevices?: { timeoutMs?: number };
}

export type RejectionStage = 'connect' | 'publish' | 'subscribe';

export interface EmbeddedBroker {
  readonly port: number;
  readonly url: string;
  readonly websocketPort: number | undefined;
  readonly websocketUrl: string | undefined;
  /** Principals of the clients connected right now, by client id. */
  connectedClients(): ReadonlyMap<string, Principal>;
  /** Drops every live connection of a device (revocation). Returns how many were closed. */
  disconnectDevice(deviceId: string): number;
  /** Lets devices in (with `holdDevices`): those waiting at CONNECT proceed at once. */
  admitDevices(): void;
  /**
   * Publishes from inside the broker (the cloud is trusted; no ACL), resolving once every subscriber
   * has the message. aedes reads a client's next packets only when all of its last batch is routed,
   * so artifact chunks fanned out to a thousand devices through the cloud's own connection held up
   * everything else the cloud sends (desired states, acknowledgements) behind the slowest socket.
   */
  publish(topic: string, payload: Uint8Array, delivery: { qos: 0 | 1; retain: boolean }): Promise<void>;
  close(): Promise<void>;
}

export class BrokerError extends EdgeloopError {
  constructor(message: string, cause?: unknown) {
    super('UNAVAILABLE', message, { cause });
    this.name = 'BrokerError';
  }
}

// CONNACK return codes of MQTT 3.1.1 (aedes' AuthErrorCode is a const enum we cannot import).
const IDENTIFIER_REJECTED = 2;
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;
const SERVER_UNAVAILABLE = 3;

/** See `concurrency` below. */
const ROUTING_CONCURRENCY = 20_000;

const connackFor: Record<AuthRejectionCode, number> = {
  UNAUTHENTICATED: BAD_USERNAME_OR_PASSWORD,
  TOKEN_REVOKED: NOT_AUTHORIZED,
  DEVICE_MISMATCH: IDENTIFIER_REJECTED,
  FORBIDDEN: NOT_AUTHORIZED,
};

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const logger = options.logger ?? silentLogger;
  const host = options.host ?? '127.0.0.1';
  const rejections = sharedCounter(
    options.registry ?? new Registry(),
    'edgeloop_mqtt_rejections_total',
    'MQTT connects, publishes and subscribes refused by the embedded broker',
    ['stage', 'code'],
  );
  const principals = new WeakMap<Client, Principal>();
  const live = new Map<string, Client>();
  /** The will topic from CONNECT, checked at login so a device cannot plant a will as another. */
  const willTopics = new WeakMap<Client, string>();
  /**
   * Revocations per device, and how many each client had seen when its login started: a revocation
   * that lands between the password check and the session going live still closes that session.
   */
  const revocationCount = new Map<string, number>();
  const revocationsAtLogin = new WeakMap<Client, number>();

  let admitted = options.holdDevices === undefined;
  let admit = () => {};
  const admission = new Promise<void>((resolve) => {
    admit = resolve;
  });
  /** Resolves true once devices are admitted, false after the hold's timeout. */
  const admittedInTime = (): Promise<boolean> => {
    if (admitted) return Promise.resolve(true);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), options.holdDevices?.timeoutMs ?? 10_000);
    });
    return Promise.race([admission.then(() => true), timeout]).finally(() => clearTimeout(timer));
  };

  const reject = (
    stage: RejectionStage,
    code: AclRejection | AuthRejectionCode,
    details: object,
    reason: string,
  ) => {
    rejections.inc({ stage, code });
    logger.warn({ event: 'mqtt.rejected', stage, code, ...details }, reason);
  };

  const broker = await Aedes.createBroker({
    // Messages routed at once. A message is done when every subscriber's socket took it, and a device
    // whose socket is full holds its messages until it drains (or `drainTimeout`, 60 s, disconnects
    // it). With aedes' default of 100, a rollout's 64 KiB chunks fanned out to 1,000 devices filled
    // all 100 slots behind a few slow sockets, and every other message in the broker (chunk requests,
    // reported states, telemetry) queued behind them for up to a minute. Raised, slow sockets delay
    // only their own messages; what is held is at most what clients publish within a drain timeout.
    concurrency: ROUTING_CONCURRENCY,
    preConnect(client, packet, done) {
      if (packet.will) willTopics.set(client, packet.will.topic);
      done(null, true);
    },
    authenticate(client, username, password, done) {
      const fail = (code: AuthRejectionCode, reason: string) => {
        reject('connect', code, { clientId: client.id, username }, reason);
        done(Object.assign(new Error(reason), { returnCode: connackFor[code] }) as AuthenticateError, false);
      };
      revocationsAtLogin.set(client, revocationCount.get(username ?? '') ?? 0);
      options.authenticator.authenticate(username, password?.toString('utf8')).then(
        (outcome) => {
          if (!outcome.ok) return fail(outcome.code, outcome.reason);
          const { principal } = outcome;
          // A device's session is keyed by its id: with any other client id it could squat on
          // (and take over) another device's session.
          if (principal.kind === 'device' && client.id !== principal.deviceId) {
            return fail(
              'DEVICE_MISMATCH',
              `client id ${JSON.stringify(client.id)} is not the device id ${principal.deviceId}`,
            );
          }
          const will = willTopics.get(client);
          if (will !== undefined) {
            const decision = canPublish(principal, will);
            if (!decision.allowed) return fail('FORBIDDEN', `last will on ${will}: ${decision.reason}`);
          }
          if (principal.kind === 'device' && !admitted) {
            void admittedInTime().then((ok) => {
              if (ok) {
                principals.set(client, principal);
                return done(null, true);
              }
              rejections.inc({ stage: 'connect', code: 'NOT_READY' });
              logger.info(
                { event: 'mqtt.not_ready', clientId: client.id },
                'device refused: the cloud is not subscribed yet',
              );
              done(
                Object.assign(new Error('the cloud is starting'), {
                  returnCode: SERVER_UNAVAILABLE,
                }) as AuthenticateError,
                false,
              );
            });
            return;
          }
          principals.set(client, principal);
          done(null, true);
        },
        (err: unknown) => {
          logger.error(
            { event: 'mqtt.auth_failed', clientId: client.id, username, err },
            'authenticator failed',
          );
          done(
            Object.assign(new Error('authentication unavailable'), {
              returnCode: SERVER_UNAVAILABLE,
            }) as AuthenticateError,
            false,
          );
        },
      );
    },
    authorizePublish(client, packet, done) {
      const principal = client ? principals.get(client) : undefined;
      if (!client || !principal) {
        // Wills of clients from another broker instance (aedes clusters): we never authenticated them.
        reject(
          'publish',
          'FOREIGN_DEVICE',
          { topic: packet.topic },
          'publish without an authenticated client',
        );
        return done(new Error('not authenticated'));
      }
      const decision = canPublish(principal, packet.topic);
      if (decision.allowed) return done(null);
      reject(
        'publish',
        decision.code,
        { clientId: client.id, principal: principalName(principal), topic: packet.topic },
        decision.reason,
      );
      done(new Error(decision.reason));
    },
    authorizeSubscribe(client, subscription, done) {
      const principal = principals.get(client);
      const decision = principal
        ? canSubscribe(principal, subscription.topic)
        : ({ allowed: false, code: 'TOPIC_INVALID', reason: 'not authenticated' } as const);
      if (decision.allowed) return done(null, subscription);
      reject(
        'subscribe',
        decision.code,
        { clientId: client.id, filter: subscription.topic },
        decision.reason,
      );
      done(null, null); // SUBACK 0x80 for this filter; the client stays connected
    },
  });

  broker.on('clientReady', (client) => {
    const principal = principals.get(client);
    if (
      principal?.kind === 'device' &&
      (revocationCount.get(principal.deviceId) ?? 0) !== revocationsAtLogin.get(client)
    ) {
      logger.info(
        { event: 'mqtt.revoked', deviceId: principal.deviceId, closed: 1 },
        'credentials revoked during login',
      );
      client.close();
      return;
    }
    live.set(client.id, client);
    logger.info(
      { event: 'mqtt.connected', clientId: client.id, principal: principal && principalName(principal) },
      'client connected',
    );
  });
  broker.on('clientDisconnect', (client) => {
    if (live.get(client.id) === client) live.delete(client.id);
  });
  broker.on('clientError', (client, err) => {
    logger.info({ event: 'mqtt.client_error', clientId: client.id, err: err.message }, 'client error');
  });

  const tcp = createTcpServer(broker.handle);
  let http: HttpServer | undefined;
  let wss: WebSocketServer | undefined;
  try {
    await listen(tcp, options.port ?? 1883, host);
    if (options.websocketPort !== undefined) {
      http = createHttpServer((_req, res) => res.writeHead(426).end('MQTT over WebSocket only\n'));
      wss = new WebSocketServer({ server: http });
      wss.on('connection', (socket, req) => {
        const stream = createWebSocketStream(socket);
        stream.on('error', () => socket.terminate()); // the client's problem, not the broker's
        broker.handle(stream, req);
      });
      await listen(http, options.websocketPort, host);
    }
  } catch (err) {
    await closeAll(broker, tcp, http, wss);
    throw new BrokerError(`embedded MQTT broker could not listen on ${host}: ${(err as Error).message}`, err);
  }

  const unsubscribeRevocations = options.authenticator.onRevoked?.((deviceId) => {
    revocationCount.set(deviceId, (revocationCount.get(deviceId) ?? 0) + 1);
    const closed = disconnectDevice(deviceId);
    logger.info({ event: 'mqtt.revoked', deviceId, closed }, 'credentials revoked; live session closed');
  });

  function disconnectDevice(deviceId: string): number {
    let closed = 0;
    for (const client of live.values()) {
      const principal = principals.get(client);
      if (principal?.kind === 'device' && principal.deviceId === deviceId) {
        client.close();
        live.delete(client.id);
        closed++;
      }
    }
    return closed;
  }

  const port = (tcp.address() as AddressInfo).port;
  const websocketPort = http ? (http.address() as AddressInfo).port : undefined;
  let closing: Promise<void> | undefined;
  return {
    port,
    url: `mqtt://${host}:${port}`,
    websocketPort,
    websocketUrl: websocketPort === undefined ? undefined : `ws://${host}:${websocketPort}`,
    connectedClients() {
      const out = new Map<string, Principal>();
      for (const [id, client] of live) {
        const principal = principals.get(client);
        if (principal) out.set(id, principal);
      }
      return out;
    },
    disconnectDevice,
    publish(topic, payload, { qos, retain }) {
      return new Promise<void>((resolve, reject) => {
        const packet = {
          cmd: 'publish' as const,
          topic,
          payload: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
          qos,
          retain,
          dup: false,
        };
        broker.publish(packet, (err) => (err ? reject(err) : resolve()));
      });
    },
    admitDevices() {
      if (admitted) return;
      admitted = true;
      logger.info({ event: 'mqtt.devices_admitted' }, 'devices admitted: the cloud is subscribed');
      admit();
    },
    close() {
      closing ??= (async () => {
        unsubscribeRevocations?.();
        await closeAll(broker, tcp, http, wss);
      })();
      return closing;
    },
  };
}

function listen(server: TcpServer | HttpServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function closeAll(
  broker: Aedes,
  tcp: TcpServer,
  http?: HttpServer,
  wss?: WebSocketServer,
): Promise<void> {
  // aedes closes its clients first, so the servers below have no open sockets to wait for.
  await new Promise<void>((resolve) => broker.close(() => resolve()));
  for (const socket of wss?.clients ?? []) socket.terminate();
  await Promise.all([
    new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve())),
    closeServer(tcp),
    http ? closeServer(http) : Promise.resolve(),
  ]);
}

function closeServer(server: TcpServer | HttpServer): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    if ('closeAllConnections' in server) server.closeAllConnections();
  });
}
