// Fault: the broker restarts mid-wave. The cloud's embedded broker (in memory: it forgets sessions
// and retained messages) goes down while the first wave's devices download, and comes back on the
// same port; the cloud connection and the real agents reconnect on their own. The rollout must
// still complete, each device counted once, none failed or timed out spuriously.
import { startEmbeddedBroker, testDatabases, type VersionRecord } from '@edgeloop/cloud';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, type RolloutFleet, shaOf, startRolloutFleet } from '../support/rollout-fleet.ts';

describe.each(testDatabases())('a broker restart mid-wave on $name', ({ open }) => {
  let fleet: RolloutFleet;
  let v1: VersionRecord;
  const ids = ['brk-0', 'brk-1', 'brk-2', 'brk-3'];

  beforeAll(async () => {
    fleet = await startRolloutFleet(open, {
      ids,
      tag: 'brk',
      versions: [{ fp32Seed: 1, int8Seed: 2 }],
      tmpPrefix: 'edgeloop-broker-restart-',
      requestWindowChunks: 1,
      cloudBackoff: { initialMs: 50, maxMs: 400 },
    });
    v1 = fleet.versions[0] as VersionRecord;
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
  });

  it('completes the rollout after the broker restarts while wave 0 downloads', async () => {
    const { service, agents } = fleet;
    await fleet.scheduler().start();
    const rollout = await service.create({
      model: 'digits',
      version: 1,
      target: { kind: 'tags', tags: ['brk'] },
      waves: [{ percent: 50 }, { percent: 100 }],
      minSoakSeconds: 0,
      deviceTimeoutSeconds: 120,
      seed: 7,
    });
    await eventually(
      async () => (await service.devices(rollout.id)).some((d) => d.wave === 0 && d.state !== 'pending'),
      'wave 0 sent',
    );
    const port = fleet.broker.port;
    // Mid-wave: wave 0's desired states are out, the next wave has not started.
    expect((await service.get(rollout.id)).waves.map((w) => w.status)).toEqual(['running', 'pending']);
    await fleet.broker.close(); // every session and retained message is gone
    await new Promise((resolve) => setTimeout(resolve, 300));
    fleet.broker = await startEmbeddedBroker({ authenticator: fleet.identity, port });
    await eventually(
      async () => (await service.get(rollout.id)).status === 'completed' && true,
      'rollout completed after the broker restart',
      30_000,
    );
    const done = await service.get(rollout.id);
    expect(done.totals).toMatchObject({ total: 4, active: 4, failed: 0, timedOut: 0, flagged: 0 });
    const events = await service.events(rollout.id);
    // Each device sent once and counted active once; nothing failed, retried into failure or timed out.
    for (const id of ids) {
      const mine = events.filter((e) => e.deviceId === id).map((e) => e.kind);
      expect(mine.filter((k) => k === 'device.sent')).toHaveLength(1);
      expect(mine.filter((k) => k === 'device.active')).toHaveLength(1);
      expect(mine.filter((k) => /failed|timed_out|rolled_back|rejected|flagged/.test(k))).toEqual([]);
      expect(agents.get(id)?.status().model?.sha256).toBe(shaOf(v1, id));
    }
    expect(events.filter((e) => e.kind === 'wave.passed')).toHaveLength(2);
    expect((await fleet.fleetRows()).map((r) => r.desiredGeneration)).toEqual([1, 1, 1, 1]);
  });
});
