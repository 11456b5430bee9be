// Rollouts end to end with real edge agents: the cloud's embedded broker (device logins through the
// identity registry), MQTT bridge, artifact server and signed registry on a real database, and
// `startAgent` instances that download, verify, golden-check and activate what the scheduler sends.
import { testDatabases, type VersionRecord } from '@edgeloop/cloud';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  classOf,
  eventually,
  type RolloutFleet,
  shaOf,
  startRolloutFleet,
} from '../support/rollout-fleet.ts';

describe.each(testDatabases())('rollouts with real agents on $name', ({ open }) => {
  let fleet: RolloutFleet;
  let v1: VersionRecord;
  let v2: VersionRecord;
  const ids = ['cam-0', 'cam-1', 'cam-2', 'cam-3'];
  const status = async (id: string) => (await fleet.service.get(id)).status;

  beforeAll(async () => {
    fleet = await startRolloutFleet(open, {
      ids,
      tag: 'e2e',
      versions: [
        { fp32Seed: 1, int8Seed: 2 },
        // v2's int8 artifact fails its golden check on every device that gets it: half the fleet.
        { fp32Seed: 3, int8Seed: 4, brokenInt8Golden: true },
      ],
      tmpPrefix: 'edgeloop-rollouts-e2e-',
      requestWindowChunks: 4,
    });
    [v1, v2] = fleet.versions as [VersionRecord, VersionRecord];
  }, 60_000);

  afterAll(async () => {
    await fleet?.stop();
  });

  it('rolls the fleet onto v1, surviving a cloud restart mid-wave', async () => {
    const { service, agents } = fleet;
    const first = fleet.scheduler();
    await first.start();
    const rollout = await service.create({
      model: 'digits',
      version: 1,
      target: { kind: 'tags', tags: ['e2e'] },
      waves: [{ percent: 50 }, { percent: 100 }],
      minSoakSeconds: 0,
      seed: 2,
    });
    await eventually(
      async () => (await service.get(rollout.id)).waves[0]?.status !== 'pending',
      'wave 0 started',
    );
    await first.stop(); // the cloud goes down mid-wave: wave 0's desired states are out
    const second = fleet.scheduler();
    await second.start();
    expect(second.leader).toBe(true);
    await eventually(async () => (await status(rollout.id)) === 'completed', 'v1 rollout completed');
    for (const id of ids) expect(agents.get(id)?.status().model?.sha256).toBe(shaOf(v1, id));
    // One desired state per device: the restarted scheduler resent nothing.
    expect((await fleet.fleetRows()).map((r) => r.desiredGeneration)).toEqual([1, 1, 1, 1]);
  });

  it('trips the failure threshold when half the fleet fails its golden check; every device ends on v1', async () => {
    const { service, agents } = fleet;
    const rollout = await service.create({
      model: 'digits',
      version: 2,
      target: { kind: 'tags', tags: ['e2e'] },
      waves: [{ percent: 50 }, { percent: 100 }],
      failureThreshold: 25,
      minSoakSeconds: 0,
      seed: 2,
    });
    // A second rollout over the same devices is refused while this one runs, naming them.
    const overlap = await service
      .create({ model: 'digits', version: 1, target: { kind: 'devices', deviceIds: ['cam-1', 'cam-2'] } })
      .catch((e: unknown) => e);
    expect(overlap).toMatchObject({
      code: 'CONFLICT',
      details: { conflicts: [{ deviceId: 'cam-1' }, { deviceId: 'cam-2' }] },
    });

    await eventually(async () => (await status(rollout.id)) === 'rolled_back', 'rollout rolled back');
    const tripped = await service.get(rollout.id);
    expect(tripped.reason).toMatch(/devices failed or rolled back \(\d+% >= 25%\)/);
    const rolloutDevices = await service.devices(rollout.id);
    // Each device was sent the v2 variant its profile prefers.
    for (const d of rolloutDevices) expect(d.sha256).toBe(shaOf(v2, d.deviceId));
    const failedDevices = rolloutDevices.filter((d) => d.state === 'failed');
    expect(failedDevices.length).toBeGreaterThan(0);
    for (const d of failedDevices) {
      expect(classOf(d.deviceId)).toBe('sim-int8');
      expect(d.reason).toMatch(/^GOLDEN_CHECK_FAILED/);
    }
    const rollbackId = tripped.rolledBackBy as string;
    await eventually(async () => (await status(rollbackId)) === 'completed', 'rollback completed');
    for (const id of ids) {
      expect(agents.get(id)?.status().model?.sha256).toBe(shaOf(v1, id));
      expect(agents.get(id)?.status().model?.version).toBe('1');
    }
    const events = (await service.events(rollout.id)).map((e) => e.kind);
    expect(events).toEqual(expect.arrayContaining(['device.failed', 'wave.failed', 'rollout.rolling_back']));
  });
});
