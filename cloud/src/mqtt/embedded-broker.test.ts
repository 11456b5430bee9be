import { createConnection } from 'node:net';
import { topicFilters, topics } from '@edgeloop/shared';
import { connectAsync, type ErrorWithSubackPacket, type IClientOptions, type MqttClient } from 'mqtt';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../db/index.ts';
import { testDatabases } from '../db/testing.ts';

const pglite = testDatabases()[0]!;

import type { BrokerAuthenticator } from '../identity/authenticator.ts';
import { DeviceRegistry, firmwareDeviceClasses } from '../identity/device-registry.ts';
import { type EmbeddedBroker, startEmbeddedBroker } from './embedded-broker.ts';
import type { Logger } from './observability.ts';
import { collectMessages } from './testing.ts';

const CLOUD_SECRET = 'cloud-secret-for-tests-0123';

describe('embedded broker (aedes) with the identity registry', () => {
  let handle: Database;
  let identity: DeviceRegistry;
  let broker: EmbeddedBroker;
  const metrics = new Registry();
  const logged: Array<{ level: string; obj: Record<string, unknown>; msg: string }> = [];
  const logger: Logger = {
    info: (obj, msg) => logged.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
    warn: (obj, msg) => logged.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
    error: (obj, msg) => logged.push({ level: 'error', obj: obj as Record<string, unknown>, msg }),
  };
  const secrets = new Map<string, string>();
  const clients: MqttClient[] = [];

  const connect = async (
    username: string,
    password = secrets.get(username) ?? '',
    extra: IClientOptions = {},
  ) => {
    const client = await connectAsync(broker.url, {
      username,
      password,
      clientId: username,
      reconnectPeriod: 0,
      connectTimeout: 3_000,
      ...extra,
    });
    clients.push(client);
    return client;
  };
  const cloud = () =>
    connect('edgeloop-cloud', CLOUD_SECRET, { clientId: `cloud-${Math.random().toString(36).slice(2)}` });
  const rejections = async () =>
    Object.fromEntries(
      ((await metrics.getSingleMetric('edgeloop_mqtt_rejections_total')?.get())?.values ?? []).map((v) => [
        `${v.labels.stage}:${v.labels.code}`,
        v.value,
      ]),
    );
  const closed = (client: MqttClient) =>
    new Promise<void>((resolve) => client.once('close', () => resolve()));

  beforeAll(async () => {
    handle = await pglite.open(); // identity is not under test here: one driver is enough
    identity = new DeviceRegistry({
      db: handle.db,
      deviceClasses: firmwareDeviceClasses(),
      cloudAccount: { secret: CLOUD_SECRET },
    });
    for (const id of ['cam-a', 'cam-b', 'cam-r']) {
      const { credentials } = await identity.provisionDevice({ id, deviceClass: 'simulated' });
      secrets.set(id, credentials.password);
    }
    broker = await startEmbeddedBroker({
      authenticator: identity,
      port: 0,
      websocketPort: 0,
      logger,
      registry: metrics,
    });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await broker?.close();
    await handle?.close();
  });

  it('listens on a random TCP port and a WebSocket port', () => {
    expect(broker.port).toBeGreaterThan(0);
    expect(broker.url).toBe(`mqtt://127.0.0.1:${broker.port}`);
    expect(broker.websocketUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
  });

  it('carries a device telemetry to the cloud, over TCP and over WebSocket', async () => {
    const c = await cloud();
    const inbox = collectMessages(c);
    await c.subscribeAsync('el/v1/dev/+/telemetry', { qos: 1 });
    const a = await connect('cam-a');
    await a.publishAsync(topics.telemetry('cam-a'), 'tcp', { qos: 1 });
    const ws = await connectAsync(broker.websocketUrl ?? '', {
      username: 'cam-b',
      password: secrets.get('cam-b'),
      clientId: 'cam-b',
      reconnectPeriod: 0,
    });
    clients.push(ws);
    await ws.publishAsync(topics.telemetry('cam-b'), 'websocket', { qos: 1 });
    await inbox.waitFor((m) => m.payload === 'tcp');
    await inbox.waitFor((m) => m.payload === 'websocket');
    expect(broker.connectedClients().get('cam-a')).toEqual({ kind: 'device', deviceId: 'cam-a' });
    await a.endAsync();
    await ws.endAsync();
  });

  it('publishes from inside the broker to every subscribed device, resolving once routed', async () => {
    const a = await connect('cam-a');
    const inbox = collectMessages(a);
    const sha = 'ab'.repeat(32);
    await a.subscribeAsync(topicFilters.artifactChunks(sha), { qos: 1 });
    await broker.publish(topics.artifactChunk(sha, 3), Buffer.from('chunk 3'), { qos: 1, retain: false });
    const message = await inbox.waitFor((m) => m.topic === topics.artifactChunk(sha, 3));
    expect(message.payload).toBe('chunk 3');
    await a.endAsync();
  });

  it('refuses a device connecting under another device id, a wrong secret and an unknown device', async () => {
    const before = await rejections();
    // cam-a's own credentials, but cam-b's client id: would take over cam-b's session
    await expect(connect('cam-a', secrets.get('cam-a'), { clientId: 'cam-b' })).rejects.toMatchObject({
      code: 2,
    });
    // cam-b's id as username with cam-a's secret
    await expect(connect('cam-b', secrets.get('cam-a'))).rejects.toMatchObject({ code: 4 });
    await expect(connect('ghost', 'whatever')).rejects.toMatchObject({ code: 4 });
    await expect(connect('edgeloop-cloud', 'not-the-secret')).rejects.toMatchObject({ code: 4 });
    const after = await rejections();
    expect((after['connect:DEVICE_MISMATCH'] ?? 0) - (before['connect:DEVICE_MISMATCH'] ?? 0)).toBe(1);
    expect((after['connect:UNAUTHENTICATED'] ?? 0) - (before['connect:UNAUTHENTICATED'] ?? 0)).toBe(3);
    expect(
      logged.some(
        (l) => l.level === 'warn' && l.obj.code === 'DEVICE_MISMATCH' && l.obj.clientId === 'cam-b',
      ),
    ).toBe(true);
  });

  it('refuses a last will planted on another device topic', async () => {
    await expect(
      connect('cam-a', secrets.get('cam-a'), {
        will: { topic: topics.status('cam-b'), payload: Buffer.from('offline'), qos: 1, retain: true },
      }),
    ).rejects.toMatchObject({ code: 5 });
    expect((await rejections())['connect:FORBIDDEN']).toBe(1);
  });

  it('drops a publish as another device (and closes that connection); the message never arrives', async () => {
    const c = await cloud();
    const inbox = collectMessages(c);
    await c.subscribeAsync(['el/v1/dev/+/+', 'el/v1/art/+/+'], { qos: 1 });
    for (const forged of [
      topics.telemetry('cam-b'),
      topics.desired('cam-a'),
      topics.artifactChunk('e'.repeat(64), 0),
    ]) {
      const a = await connect('cam-a');
      const gone = closed(a);
      a.publish(forged, 'forged', { qos: 1 });
      await gone;
    }
    // a marker through the same broker after the refusals: once it is here, nothing forged is coming
    const a = await connect('cam-a');
    await a.publishAsync(topics.telemetry('cam-a'), 'marker', { qos: 1 });
    await inbox.waitFor((m) => m.payload === 'marker');
    expect(inbox.messages.filter((m) => m.payload === 'forged')).toEqual([]);
    const counts = await rejections();
    expect(counts['publish:FOREIGN_DEVICE']).toBe(1);
    expect(counts['publish:CLOUD_ONLY']).toBe(2);
    expect(
      logged.some(
        (l) => l.level === 'warn' && l.obj.stage === 'publish' && l.obj.topic === topics.telemetry('cam-b'),
      ),
    ).toBe(true);
    await a.endAsync();
  });

  it('fails subscriptions to # and to other devices (SUBACK 0x80), and delivers only own topics', async () => {
    const a = await connect('cam-a');
    const inbox = collectMessages(a);
    const filters = [
      '#',
      'el/v1/dev/+/desired',
      topics.desired('cam-b'),
      `$share/g/${topics.telemetry('cam-b')}`,
      topics.desired('cam-a'),
      'el/v1/art/+/+',
    ];
    // mqtt.js rejects the whole call when any filter fails; the SUBACK rides on the error
    const suback = await a.subscribeAsync(filters, { qos: 1 }).then(
      () => undefined,
      (err: ErrorWithSubackPacket) => err.packet,
    );
    expect(suback?.granted).toEqual([128, 128, 128, 128, 1, 1]);
    const c = await cloud();
    await c.publishAsync(topics.desired('cam-b'), 'for-b', { qos: 1, retain: true });
    await c.publishAsync(topics.desired('cam-a'), 'for-a', { qos: 1 });
    await inbox.waitFor((m) => m.payload === 'for-a');
    expect(inbox.messages.map((m) => m.payload)).toEqual(['for-a']);
    expect(a.connected).toBe(true);
    const counts = await rejections();
    expect(counts['subscribe:WILDCARD_TOO_BROAD']).toBe(3);
    expect(counts['subscribe:FOREIGN_DEVICE']).toBe(1);
    expect(
      logged.some((l) => l.level === 'warn' && l.obj.stage === 'subscribe' && l.obj.filter === '#'),
    ).toBe(true);
    // the retained message is still there for its owner: the refusals changed nothing
    const b = await connect('cam-b');
    const bInbox = collectMessages(b);
    await b.subscribeAsync(topics.desired('cam-b'), { qos: 1 });
    expect((await bInbox.waitFor((m) => m.payload === 'for-b')).topic).toBe(topics.desired('cam-b'));
    await Promise.all([a.endAsync(), b.endAsync()]);
  });

  it('revocation closes the live session at once and refuses the old secret with TOKEN_REVOKED', async () => {
    const r = await connect('cam-r');
    const gone = closed(r);
    await identity.revokeCredentials('cam-r');
    await gone;
    expect(broker.connectedClients().has('cam-r')).toBe(false);
    await expect(connect('cam-r')).rejects.toMatchObject({ code: 5 });
    expect((await rejections())['connect:TOKEN_REVOKED']).toBe(1);
    expect(
      logged.some((l) => l.obj.event === 'mqtt.revoked' && l.obj.deviceId === 'cam-r' && l.obj.closed === 1),
    ).toBe(true);
  });

  it('closes a session whose credentials were revoked while its login was being checked', async () => {
    const { credentials } = await identity.provisionDevice({ id: 'cam-race', deviceClass: 'simulated' });
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let verified = () => {};
    const verdictReady = new Promise<void>((resolve) => {
      verified = resolve;
    });
    // the registry's verdict is "ok", but the revocation lands before the broker acts on it
    const slow: BrokerAuthenticator = {
      authenticate: async (username, password) => {
        const outcome = await identity.authenticate(username, password);
        verified();
        await gate;
        return outcome;
      },
      onRevoked: (listener) => identity.onRevoked(listener),
    };
    const racing = await startEmbeddedBroker({ authenticator: slow, port: 0, logger });
    try {
      const connecting = connectAsync(racing.url, {
        username: 'cam-race',
        password: credentials.password,
        clientId: 'cam-race',
        reconnectPeriod: 0,
      });
      await verdictReady;
      await identity.revokeCredentials('cam-race');
      release();
      const client = await connecting.catch(() => undefined);
      if (client) {
        clients.push(client);
        // bounded wait: without the fix the session would simply stay open
        if (client.connected) await Promise.race([closed(client), new Promise((r) => setTimeout(r, 2_000))]);
      }
      expect(racing.connectedClients().has('cam-race')).toBe(false);
    } finally {
      await racing.close();
    }
  });

  it('holds devices at CONNECT until the cloud admits them; refuses with 3 after the hold times out', async () => {
    const held = await startEmbeddedBroker({
      authenticator: identity,
      port: 0,
      registry: metrics,
      logger,
      holdDevices: { timeoutMs: 1_500 },
    });
    const options = (id: string) => ({
      username: id,
      password: secrets.get(id),
      clientId: id,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
    });
    try {
      const before = await rejections();
      // Nobody admits: refused as server unavailable once the hold is over; the device would retry.
      const started = Date.now();
      await expect(connectAsync(held.url, options('cam-a'))).rejects.toMatchObject({ code: 3 });
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
      expect(((await rejections())['connect:NOT_READY'] ?? 0) - (before['connect:NOT_READY'] ?? 0)).toBe(1);

      // The cloud itself is never held; a device waiting at CONNECT goes on when it is admitted.
      const c = await connectAsync(held.url, {
        username: 'edgeloop-cloud',
        password: CLOUD_SECRET,
        clientId: 'cloud-held',
        reconnectPeriod: 0,
      });
      clients.push(c);
      const inbox = collectMessages(c);
      await c.subscribeAsync('el/v1/dev/+/telemetry', { qos: 1 });
      const waiting = connectAsync(held.url, options('cam-b'));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(held.connectedClients().has('cam-b')).toBe(false);
      held.admitDevices();
      const b = await waiting;
      clients.push(b);
      await b.publishAsync(topics.telemetry('cam-b'), 'after admission', { qos: 1 });
      await inbox.waitFor((m) => m.payload === 'after admission');
      // Admitted for good: the next device connects at once.
      const a = await connectAsync(held.url, options('cam-a'));
      clients.push(a);
      await a.publishAsync(topics.telemetry('cam-a'), 'no wait', { qos: 1 });
      await inbox.waitFor((m) => m.payload === 'no wait');
    } finally {
      await held.close();
    }
  });

  it('closes cleanly: clients are dropped and the ports are free', async () => {
    const extra = await startEmbeddedBroker({ authenticator: identity, port: 0 });
    const a = await connectAsync(extra.url, {
      username: 'cam-a',
      password: secrets.get('cam-a'),
      clientId: 'cam-a',
      reconnectPeriod: 0,
    });
    const gone = closed(a);
    await extra.close();
    await gone;
    await extra.close(); // idempotent
    await expect(
      new Promise((resolve, reject) =>
        createConnection(extra.port, '127.0.0.1').once('connect', resolve).once('error', reject),
      ),
    ).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('fails to start with a clear error when the port is taken', async () => {
    await expect(startEmbeddedBroker({ authenticator: identity, port: broker.port })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringContaining('EADDRINUSE'),
    });
  });
});
