import { connectAsync } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { BrokerAuthenticator } from '../identity/authenticator.ts';
import { cloudPrincipal } from '../identity/principal.ts';
import { type CloudMqttConnection, connectCloudMqtt } from './connection.ts';
import { type EmbeddedBroker, startEmbeddedBroker } from './embedded-broker.ts';
import { collectMessages, freePort, uniqueSuffix } from './testing.ts';

/** Accepts only the cloud account: these tests are about the connection, not about identity. */
const cloudOnly: BrokerAuthenticator = {
  authenticate: async (username, password) =>
    username === 'edgeloop-cloud' && password === 'pw'
      ? { ok: true, principal: cloudPrincipal() }
      : { ok: false, code: 'UNAUTHENTICATED', reason: 'test' },
};

describe('cloud MQTT connection', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });
  const broker = async (port = 0): Promise<EmbeddedBroker> => {
    const b = await startEmbeddedBroker({ authenticator: cloudOnly, port });
    cleanup.push(() => b.close());
    return b;
  };
  const connect = async (
    url: string,
    extra: Partial<Parameters<typeof connectCloudMqtt>[0]> = {},
  ): Promise<CloudMqttConnection> => {
    const c = await connectCloudMqtt({ url, username: 'edgeloop-cloud', password: 'pw', ...extra });
    cleanup.push(() => c.close());
    return c;
  };

  it('falls back to MQTT 3.1.1 on aedes and then publishes and subscribes', async () => {
    const b = await broker();
    const c = await connect(b.url);
    expect(c.protocolVersion).toBe(4);
    expect(c.supportsSharedSubscriptions).toBe(false);
    const inbox = collectMessages(c.client);
    await c.subscribe(['t/x'], 1);
    await c.publish('t/x', new Uint8Array([104, 105]), { qos: 1, retain: false });
    expect((await inbox.waitFor(() => true)).payload).toBe('hi');
  });

  it('fails fast with UNAUTHENTICATED on bad credentials, and with TIMEOUT when nobody listens', async () => {
    const b = await broker();
    await expect(
      connectCloudMqtt({ url: b.url, username: 'edgeloop-cloud', password: 'wrong' }),
    ).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    const port = await freePort();
    const started = Date.now();
    await expect(
      connectCloudMqtt({
        url: `mqtt://127.0.0.1:${port}`,
        connectTimeoutMs: 400,
        backoff: { initialMs: 50 },
      }),
    ).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('reconnects with growing delays after the broker goes away, and resubscribes', async () => {
    const first = await broker();
    const c = await connect(first.url, { backoff: { initialMs: 20, maxMs: 320 } });
    await c.subscribe(['t/after'], 1);
    const attempts: number[] = [];
    c.client.on('reconnect', () => attempts.push(Date.now()));
    await first.close();
    await new Promise((resolve) => setTimeout(resolve, 900));
    const gaps = attempts.slice(1).map((t, i) => t - (attempts[i] ?? t));
    expect(gaps.length).toBeGreaterThanOrEqual(3);
    // doubling with ±20 % jitter: the last gap is clearly longer than the first
    expect(gaps.at(-1) ?? 0).toBeGreaterThan(2 * (gaps[0] ?? 0));

    const reconnected = new Promise<void>((resolve) => c.client.once('connect', () => resolve()));
    const second = await broker(first.port);
    await reconnected;
    const inbox = collectMessages(c.client);
    const other = await connectAsync(second.url, {
      username: 'edgeloop-cloud',
      password: 'pw',
      reconnectPeriod: 0,
    });
    cleanup.push(() => other.endAsync());
    // mqtt.js re-sends SUBSCRIBE on connect; poll until the new broker routes to us
    for (let i = 0; i < 20 && inbox.messages.length === 0; i++) {
      await other.publishAsync('t/after', 'back', { qos: 1 });
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(inbox.messages[0]?.payload).toBe('back');
  });

  it('closes cleanly and idempotently', async () => {
    const b = await broker();
    const c = await connect(b.url);
    await c.close();
    await c.close();
    expect(c.client.connected).toBe(false);
    expect(b.connectedClients().size).toBe(0);
  });

  it.skipIf(!process.env.MQTT_URL)(
    'speaks MQTT 5 with shared subscriptions to the external broker (MQTT_URL)',
    async () => {
      const c = await connect(process.env.MQTT_URL ?? '');
      expect(c.protocolVersion).toBe(5);
      expect(c.supportsSharedSubscriptions).toBe(true);
      const topic = `el-test/${uniqueSuffix()}/x`;
      const inbox = collectMessages(c.client);
      await c.subscribe([topic], 1);
      await c.publish(topic, 'external', { qos: 1, retain: false });
      expect((await inbox.waitFor(() => true)).payload).toBe('external');
    },
  );
});
