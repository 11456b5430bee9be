// The router on a stand-in client: mqtt.js calls `handleMessage(packet, done)` and acknowledges on
// `done`, which is all the router sees of it. The real-broker paths are covered by the bridge,
// ingest, delivery and samples tests.
import type { IPublishPacket, MqttClient } from 'mqtt';
import { describe, expect, it, vi } from 'vitest';
import { MessageRouter } from './router.ts';

function fakeClient() {
  const client = {
    handleMessage(_packet: IPublishPacket, done: (err?: Error) => void) {
      done();
    },
  };
  return client as unknown as MqttClient & { handleMessage: MqttClient['handleMessage'] };
}

const packet = (topic: string) =>
  ({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 1 }) as IPublishPacket;

function deferred() {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Delivers a packet as mqtt.js would; `acked()` tells whether `done` was called yet. */
function deliver(client: MqttClient, topic: string) {
  let acked = false;
  client.handleMessage(packet(topic), () => {
    acked = true;
  });
  return { acked: () => acked };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('MessageRouter', () => {
  it('dispatches to matching consumers only and acknowledges once all of them settle', async () => {
    const client = fakeClient();
    const router = new MessageRouter(client);
    const a = deferred();
    const b = deferred();
    const seen: string[] = [];
    router.consume({
      filters: ['el/v1/dev/+/telemetry'],
      handle: (p) => {
        seen.push(`a:${p.topic}`);
        return a.promise;
      },
      onError: () => undefined,
    });
    router.consume({
      filters: ['$share/ingest/el/v1/dev/+/telemetry', 'el/v1/dev/+/status'],
      handle: (p) => {
        seen.push(`b:${p.topic}`);
        return b.promise;
      },
      onError: () => undefined,
    });
    const m = deliver(client, 'el/v1/dev/cam-1/telemetry');
    expect(seen).toEqual(['a:el/v1/dev/cam-1/telemetry', 'b:el/v1/dev/cam-1/telemetry']);
    a.resolve();
    await flush();
    expect(m.acked()).toBe(false);
    b.resolve();
    await flush();
    expect(m.acked()).toBe(true);
    // A topic nobody consumes is acknowledged at once.
    expect(deliver(client, 'el/v1/dev/cam-1/samples').acked()).toBe(true);
  });

  it('acknowledges a packet whose consumer fails, and reports the failure', async () => {
    const client = fakeClient();
    const router = new MessageRouter(client);
    const onError = vi.fn();
    router.consume({ filters: ['#'], handle: () => Promise.reject(new Error('boom')), onError });
    router.consume({
      filters: ['#'],
      handle: () => {
        throw new Error('sync');
      },
      onError,
    });
    const m = deliver(client, 'a/b');
    await flush();
    expect(m.acked()).toBe(true);
    expect(onError.mock.calls.map(([p, err]) => [p.topic, String(err)])).toEqual([
      ['a/b', 'Error: sync'],
      ['a/b', 'Error: boom'],
    ]);
  });

  it('asks the ack holds after the consumers settle, and waits for them', async () => {
    const client = fakeClient();
    const router = new MessageRouter(client);
    const order: string[] = [];
    const room = deferred();
    router.consume({
      filters: ['t'],
      handle: async () => {
        order.push('consumer');
      },
      onError: () => undefined,
    });
    router.holdAcks(() => {
      order.push('hold');
      return room.promise;
    });
    const m = deliver(client, 't');
    await flush();
    expect(order).toEqual(['consumer', 'hold']);
    expect(m.acked()).toBe(false);
    room.reject(new Error('a failed wait still releases the packet'));
    await flush();
    expect(m.acked()).toBe(true);
  });

  it('unregisters one consumer without disturbing the others, and hands handleMessage back when empty', async () => {
    const client = fakeClient();
    const original = client.handleMessage;
    const router = new MessageRouter(client);
    const seen: string[] = [];
    const a = router.consume({
      filters: ['t'],
      handle: async () => void seen.push('a'),
      onError: () => undefined,
    });
    const b = router.consume({
      filters: ['t'],
      handle: async () => void seen.push('b'),
      onError: () => undefined,
    });
    const hold = router.holdAcks(() => undefined);
    expect(client.handleMessage).not.toBe(original);
    a.remove();
    deliver(client, 't');
    expect(seen).toEqual(['b']);
    b.remove();
    expect(client.handleMessage).not.toBe(original);
    hold.remove();
    expect(client.handleMessage).toBe(original);
  });
});
