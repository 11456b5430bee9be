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

describe('DesiredStatePublisher', () => {
  it('publishes many devices at once, at most 32 in flight, and records each generation', async () => {
    let inFlight = 0;
    let most = 0;
    let generation = 0;
    const bridge = {
      publishDesired: async (_deviceId: string) => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight--;
        return { generation: ++generation } as never;
      },
    };
    const publisher = new DesiredStatePublisher(
      bridge,
      { getVariant: async () => record as never },
      silentLogger,
    );
    const ids = Array.from({ length: 100 }, (_, i) => `cam-${i}`);
    const step = stepFor(ids);
    const sent = await publisher.carryOut(
      { state: { id: 'ro-1', modelName: 'digits' } } as never,
      step as never,
      new Map(),
    );
    expect(sent).toBe(100);
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(32);
    expect(new Set(step.state.devices.map((d) => d.generation)).size).toBe(100);
  });

  it('a failed publish leaves that device pending for the next tick, the others sent', async () => {
    const bridge = {
      publishDesired: async (deviceId: string) => {
        if (deviceId === 'cam-3') throw new Error('broker unreachable');
        return { generation: 7 } as never;
      },
    };
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
    expect(step.state.devices.filter((d) => d.generation === 7)).toHaveLength(3);
  });
});
