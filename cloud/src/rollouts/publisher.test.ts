// The publisher sends a wave's desired states in parallel (bounded), one device's in order.
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../mqtt/observability.ts';
import { DesiredStatePublisher } from './publisher.ts';

const record = {
  manifest: { sha256: 'ab'.repeat(32) },
  signature: 'sig',
  size: 200_000,
  sha256: 'ab'.repeat(32),
};

function stepFor(ids: string[]) {
  return {
    actions: ids.map((deviceId) => ({ kind: 'send' as const, deviceId })),
    events: [] as unknown[],
    state: {
      waves: [],
      devices: ids.map((deviceId) => ({
        deviceId,
        wave: 0,
        modelVersion: 2,
        variant: 'int8',
        chunkSize: 65_536,
        fromModel: null,
        generation: null,
        state: 'pending',
      })),
    },
  };
}

/** A bridge whose `publishDesiredMany` records its batch sizes; `failing` devices are refused. */
function recordingBridge(failing: ReadonlySet<string> = new Set()) {
  let generation = 0;
  const batches: number[] = [];
  const single: string[] = [];
  return {
    batches,
    single,
    publishDesired: async (deviceId: string) => {
      single.push(deviceId);
      if (failing.has(deviceId)) throw new Error('broker unreachable');
      return { generation: ++generation } as never;
    },
    publishDesiredMany: async (entries: readonly { deviceId: string }[]) => {
      batches.push(entries.length);
      return entries.map(({ deviceId }) =>
        failing.has(deviceId)
          ? { deviceId, ok: false as const, error: new Error('broker unreachable') }
          : { deviceId, ok: true as const, state: { generation: ++generation } as never },
      );
    },
  };
}

describe('DesiredStatePublisher', () => {
  it('sends a wave in batches of 1000, one publishDesiredMany each, and records each generation', async () => {
    const bridge = recordingBridge();
    const publisher = new DesiredStatePublisher(
      bridge,
      { getVariant: async () => record as never },
      silentLogger,
    );
    const ids = Array.from({ length: 2200 }, (_, i) => `cam-${i}`);
    const step = stepFor(ids);
    const sent = await publisher.carryOut(
      { state: { id: 'ro-1', modelName: 'digits' } } as never,
      step as never,
      new Map(),
    );
    expect(sent).toBe(2200);
    expect(bridge.batches).toEqual([1000, 1000, 200]);
    expect(bridge.single).toEqual([]);
    expect(new Set(step.state.devices.map((d) => d.generation)).size).toBe(2200);
  });

  it('a failed publish leaves that device pending for the next tick, the others sent', async () => {
    const bridge = recordingBridge(new Set(['cam-3']));
    const publisher = new DesiredStatePublisher(
      bridge,
      { getVariant: async () => record as never },
      silentLogger,
    );
    const step = stepFor(['cam-1', 'cam-2', 'cam-3', 'cam-4']);
    const sent = await publisher.carryOut(
      { state: { id: 'ro-1', modelName: 'digits' } } as never,
      step as never,
      new Map(),
    );
    expect(sent).toBe(3);
    expect(step.state.devices.find((d) => d.deviceId === 'cam-3')).toMatchObject({
      state: 'pending',
      reason: 'publish failed: broker unreachable',
    });
    expect(step.state.devices.filter((d) => d.generation !== null)).toHaveLength(3);
    expect(step.events).toHaveLength(1);
  });

  it('a batch whose transaction fails leaves all its devices pending', async () => {
    const bridge = {
      ...recordingBridge(),
      publishDesiredMany: async () => {
        throw new Error('connection terminated');
      },
    };
    const publisher = new DesiredStatePublisher(
      bridge,
      { getVariant: async () => record as never },
      silentLogger,
    );
    const step = stepFor(['cam-1', 'cam-2']);
    const sent = await publisher.carryOut(
      { state: { id: 'ro-1', modelName: 'digits' } } as never,
      step as never,
      new Map(),
    );
    expect(sent).toBe(0);
    expect(step.state.devices.map((d) => d.state)).toEqual(['pending', 'pending']);
    expect(step.state.devices[0]).toMatchObject({ reason: 'publish failed: connection terminated' });
  });
});
