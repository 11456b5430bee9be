// The MQTT connection against real brokers: aedes in this process always, and the broker at MQTT_URL
// (CI's Mosquitto) when set — aedes speaks 3.1.1 only, so that run is the one that exercises MQTT 5.

import net from 'node:net';
import { channelPayloads, type DeviceStatus, topics } from '@edgeloop/shared';
import { Aedes } from 'aedes';
import fc from 'fast-check';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AgentConnection,
  type AgentConnectionOptions,
  newBootId,
  reconnectDelayMs,
  topicMatches,
} from './connection.ts';
import { AgentEventBus } from './event-bus.ts';
import { uniqueDeviceId } from './testing/agent-fixtures.ts';
import { startTestBroker, type TestBroker } from './testing/broker.ts';
import { eventually } from './testing/fake-cloud.ts';

describe('reconnectDelayMs', () => {
  it('grows exponentially to the cap, with half of it jittered', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 40 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, r) => {
          const ceiling = Math.min(60_000, 1000 * 2 ** attempt);
          const delay = reconnectDelayMs(attempt, { initialMs: 1000, maxMs: 60_000 }, () => r);
          expect(delay).toBeGreaterThanOrEqual(Math.floor(ceiling / 2));
          expect(delay).toBeLessThanOrEqual(ceiling);
        },
      ),
    );
    expect(reconnectDelayMs(0, { initialMs: 1000, maxMs: 60_000 }, () => 0)).toBe(500);
    expect(reconnectDelayMs(3, { initialMs: 1000, maxMs: 60_000 }, () => 0.999999)).toBe(8000);
    expect(reconnectDelayMs(30, { initialMs: 1000, maxMs: 60_000 }, () => 0)).toBe(30_000);
  });
});

describe('topicMatches', () => {
  it('follows MQTT wildcard rules', () => {
    expect(topicMatches('el/v1/art/abc/+', 'el/v1/art/abc/7')).toBe(true);
    expect(topicMatches('el/v1/art/abc/+', 'el/v1/art/abc/7/x')).toBe(false);
    expect(topicMatches('el/v1/#', 'el/v1/dev/a/status')).toBe(true);
    expect(topicMatches('el/v1/dev/a/desired', 'el/v1/dev/b/desired')).toBe(false);
  });
});

interface BrokerUnderTest {
  name: string;
  url: () => string;
  expectedProtocol: 4 | 5;
}

let aedes: TestBroker;
beforeAll(async () => {
  aedes = await startTestBroker();
});
afterAll(async () => {
  await aedes.close();
});

const brokers: BrokerUnderTest[] = [{ name: 'aedes (embedded)', url: () => aedes.url, expectedProtocol: 4 }];
if (process.env['MQTT_URL']) {
  const external = process.env['MQTT_URL'];
  brokers.push({ name: `external ${external}`, url: () => external, expectedProtocol: 5 });
}

describe.each(brokers)('AgentConnection on $name', (broker) => {
  function options(deviceId: string, bootId = newBootId()): AgentConnectionOptions {
    return {
      url: broker.url(),
      deviceId,
      password: 'secret',
      agentVersion: '0.1.0',
      profileId: 'simulated',
      bootId,
      keepaliveSeconds: 5,
      sessionExpirySeconds: 60,
      protocol: 'auto',
      backoff: { initialMs: 50, maxMs: 200 },
      connectTimeoutMs: 2000,
    };
  }

  async function watchStatus(deviceId: string) {
    const seen: DeviceStatus[] = [];
    const client = await mqtt.connectAsync(broker.url(), { clientId: `watch-${deviceId}`, clean: true });
    client.on('message', (_topic, payload) => {
      if (payload.length === 0) return;
      const decoded = channelPayloads.status.decode(payload);
      if (decoded.ok) seen.push(decoded.value);
    });
    await client.subscribeAsync(topics.status(deviceId), { qos: 1 });
    return {
      seen,
      close: async () => {
        // Clear the retained status so an external broker does not keep test devices around.
        await client.publishAsync(topics.status(deviceId), '', { qos: 1, retain: true });
        await client.endAsync();
      },
    };
  }

  it('announces itself online (birth) and offline on a clean stop, with its boot id', async () => {
    const deviceId = uniqueDeviceId('conn');
    const watcher = await watchStatus(deviceId);
    const connection = new AgentConnection(options(deviceId), new AgentEventBus());
    connection.start();
    await eventually(() => connection.connected, 5000, 'connected');
    expect(connection.protocolVersion).toBe(broker.expectedProtocol);
    await eventually(() => watcher.seen.some((s) => s.state === 'online'));
    await connection.stop();
    await eventually(() => watcher.seen.at(-1)?.state === 'offline');
    expect(new Set(watcher.seen.map((s) => s.bootId)).size).toBe(1);
    await watcher.close();
  });

  it('leaves a retained offline last will when it dies without disconnecting', async () => {
    const deviceId = uniqueDeviceId('conn');
    const watcher = await watchStatus(deviceId);
    const bootId = newBootId();
    const connection = new AgentConnection(options(deviceId, bootId), new AgentEventBus());
    connection.start();
    await eventually(() => watcher.seen.some((s) => s.state === 'online'));
    await connection.stop({ graceful: false });
    const will = await eventually(() => watcher.seen.find((s) => s.state === 'offline'), 5000, 'last will');
    expect(will.bootId).toBe(bootId);
    await watcher.close();
  });

  it('delivers QoS 1 messages sent while it was away (persistent session) and resubscribes in a new process', async () => {
    const deviceId = uniqueDeviceId('conn');
    const bus = new AgentEventBus();
    const received: string[] = [];
    const first = new AgentConnection(options(deviceId), bus);
    await first.subscribe(topics.desired(deviceId), (_t, p) => {
      received.push(p.toString());
    });
    first.start();
    await eventually(() => first.connected);
    await first.stop({ graceful: false });

    const sender = await mqtt.connectAsync(broker.url(), { clientId: `send-${deviceId}` });
    await sender.publishAsync(topics.desired(deviceId), 'while-away', { qos: 1 });

    const second = new AgentConnection(options(deviceId), new AgentEventBus());
    await second.subscribe(topics.desired(deviceId), (_t, p) => {
      received.push(p.toString());
    });
    second.start();
    await eventually(() => received.includes('while-away'), 5000, 'queued message');
    await second.stop();
    await sender.endAsync();
  });
});

describe('AgentConnection reconnects', () => {
  it('comes back after a broker outage with backoff, and emits disconnected/connected', async () => {
    const broker = await startTestBroker();
    const bus = new AgentEventBus();
    const events: string[] = [];
    bus.on('connected', events, (e) => events.push(`connected:${e.reconnects > 0}`));
    bus.on('disconnected', events, () => events.push('disconnected'));
    const connection = new AgentConnection(
      {
        url: broker.url,
        deviceId: uniqueDeviceId('conn'),
        password: 'x',
        agentVersion: '0.1.0',
        profileId: 'simulated',
        bootId: newBootId(),
        keepaliveSeconds: 5,
        sessionExpirySeconds: 60,
        protocol: 4,
        backoff: { initialMs: 20, maxMs: 100 },
        connectTimeoutMs: 1000,
      },
      bus,
    );
    connection.start();
    await eventually(() => connection.connected);
    await broker.down();
    await eventually(() => !connection.connected);
    await new Promise((resolve) => setTimeout(resolve, 300)); // several refused attempts
    await broker.up();
    await eventually(() => connection.connected, 5000, 'reconnected');
    expect(events).toEqual(['connected:false', 'disconnected', 'connected:true']);
    await connection.stop();
    await broker.close();
  });
});

describe('AgentConnection and an unanswered SUBSCRIBE', () => {
  it('drops a session whose SUBACK never comes, reconnects and subscribes again', async () => {
    // A real broker that swallows the first SUBSCRIBE to one filter: no SUBACK, connection kept.
    let swallowed = 0;
    const broker = await Aedes.createBroker({
      authorizeSubscribe(_client, subscription, done) {
        if (subscription.topic === 'el/test/stuck' && swallowed++ === 0) return; // never answered
        done(null, subscription);
      },
    });
    const server = net.createServer((socket) => broker.handle(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    const bus = new AgentEventBus();
    const connection = new AgentConnection(
      {
        url,
        deviceId: uniqueDeviceId('suback'),
        password: 'x',
        agentVersion: '0.1.0',
        profileId: 'simulated',
        bootId: newBootId(),
        keepaliveSeconds: 30,
        sessionExpirySeconds: 60,
        protocol: 4,
        backoff: { initialMs: 20, maxMs: 100 },
        connectTimeoutMs: 1000,
        subackTimeoutMs: 500,
      },
      bus,
    );
    let reconnects = 0;
    bus.on('connected', bus, (e) => {
      reconnects = e.reconnects;
    });
    connection.start();
    await eventually(() => connection.connected);
    const received: string[] = [];
    await connection.subscribe('el/test/stuck', (_topic, payload) => {
      received.push(payload.toString());
    });
    // The first SUBSCRIBE went unanswered: the agent dropped the socket and subscribed on reconnect.
    await eventually(() => reconnects > 0 && connection.connected, 5000, 'reconnected');
    expect(swallowed).toBe(2);
    await eventually(async () => {
      broker.publish(
        {
          cmd: 'publish',
          topic: 'el/test/stuck',
          payload: Buffer.from('hi'),
          qos: 0,
          retain: false,
          dup: false,
        },
        () => undefined,
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
      return received.length > 0;
    });
    await connection.stop();
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
