// The simulator against a real broker in this process and the fake cloud: five real agents get a
// signed model over MQTT, their cameras feed frames, telemetry windows carry exactly what was fed,
// and a corruption switched on for two devices changes what those two see and how well they do.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { base64Encode } from '@edgeloop/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawImage } from '../preprocess.ts';
import { brightnessModel, signedDesired } from '../testing/agent-fixtures.ts';
import { startTestBroker, type TestBroker } from '../testing/broker.ts';
import { eventually, FakeCloud } from '../testing/fake-cloud.ts';
import { testSigningKey } from '../testing/fixtures.ts';
import type { FrameTransform } from './corruption.ts';
import { SimulatedFleet } from './fleet.ts';
import { FrameCycle } from './frame-source.ts';
import { type DeviceProvisioner, SharedTokenProvisioner } from './provisioner.ts';

// The brightness model's classes: 0 dark, 1 bright, 2 grey.
const BRIGHT = 1;
const DARK = 0;
const brightFrame: RawImage = { data: new Uint8Array(32 * 32).fill(230), width: 32, height: 32, channels: 1 };

/** "Lighting failure": scales every pixel down, so a bright scene reads as a dark one. */
const darken: FrameTransform = (frame, { severity }) => {
  const raw = frame.image as RawImage;
  const data = raw.data.map((v) => Math.round(v * (1 - severity)));
  return { ...frame, image: { ...raw, data } };
};

let broker: TestBroker;
let cloud: FakeCloud;
let dataDir: string;

beforeAll(async () => {
  broker = await startTestBroker();
  cloud = await FakeCloud.connect(broker.url);
  dataDir = await mkdtemp(join(tmpdir(), 'el-sim-'));
});
afterAll(async () => {
  await cloud?.close();
  await broker?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('SimulatedFleet', () => {
  it('runs five agents that get a model, classify camera frames and report exact telemetry', async () => {
    const key = testSigningKey();
    const model = brightnessModel('1');
    cloud.addArtifact(model.bytes);
    const idPrefix = `sim${process.pid}`;
    const fleet = await SimulatedFleet.start({
      devices: 5,
      idPrefix,
      dataDir,
      provisioner: new SharedTokenProvisioner('any'),
      brokerUrl: broker.url,
      trustedKeys: [base64Encode(key.publicRaw)],
      frames: () => new FrameCycle([{ image: brightFrame, label: BRIGHT }]),
      transform: darken,
      fps: 40,
      seed: 7,
      tuning: {
        reconnect: { initialMs: 50, maxMs: 400 },
        chunkQuietMs: 300,
        telemetryWindowMs: 60_000, // windows are closed by the test, not the clock
      },
    });
    const ids = fleet.devices.map((d) => d.deviceId);
    try {
      expect(ids).toEqual([0, 1, 2, 3, 4].map((i) => `${idPrefix}-000${i}`));
      // Cameras run before any model arrives: their frames are idle, never agent errors.
      await eventually(() => fleet.stats().connected === 5, 5000, 'all devices connected');
      await eventually(() => fleet.stats().idle > 0, 2000, 'idle frames');
      expect(fleet.stats().frames).toBe(0);

      for (const id of ids) await cloud.publishDesired(id, signedDesired({ generation: 1, model, key }));
      await eventually(() => fleet.stats().models['digits@1/fp32'] === 5, 8000, 'model on all devices');
      await eventually(() => ids.every((id) => fleet.deviceStats(id).inferences >= 5), 5000, 'inferences');

      // Window A: everything classified before the corruption.
      await fleet.pause();
      const before = new Map(ids.map((id) => [id, fleet.deviceStats(id)]));
      await fleet.flushTelemetry();
      const corrupted = fleet.setCorruption(ids.slice(0, 2), { kind: 'darken', severity: 0.9 });
      expect(corrupted).toEqual(ids.slice(0, 2));
      fleet.resume();
      await eventually(
        () => ids.every((id) => fleet.deviceStats(id).inferences >= 6),
        5000,
        'more inferences',
      );

      // Window B: exactly what was fed since the corruption was switched on.
      await fleet.pause();
      const after = new Map(ids.map((id) => [id, fleet.deviceStats(id)]));
      await fleet.flushTelemetry();
      const windows = await eventually(
        () => {
          const last = ids.map((id) => cloud.telemetry.get(id)?.filter((w) => w.inferences > 0) ?? []);
          return last.every((list) => list.length >= 2) && last;
        },
        5000,
        'two telemetry windows per device',
      );

      ids.forEach((id, i) => {
        const [windowA, windowB] = (windows[i] ?? []).slice(-2);
        const a = before.get(id);
        const b = after.get(id);
        if (!windowA || !windowB || !a || !b) throw new Error(`missing data for ${id}`);
        expect(windowA.inferences).toBe(a.inferences);
        expect(windowA.classCounts[BRIGHT]).toBe(a.inferences);
        // Switching a corruption restarts the counts of the devices it touches, only theirs.
        const isCorrupted = i < 2;
        const fedSinceA = isCorrupted ? b.inferences : b.inferences - a.inferences;
        expect(fedSinceA).toBeGreaterThan(0);
        expect(windowB.inferences).toBe(fedSinceA);
        expect(windowB.errors).toBe(0);
        expect(windowB.model?.version).toBe('1');
        expect(windowB.classCounts[isCorrupted ? DARK : BRIGHT]).toBe(fedSinceA);
        expect(b.accuracy).toBe(isCorrupted ? 0 : 1);
        expect(b.corruption).toEqual(isCorrupted ? { kind: 'darken', severity: 0.9 } : null);
        expect(b.meanInputLevel).toBeCloseTo(isCorrupted ? 23 / 255 : 230 / 255, 2);
      });
      expect(fleet.stats()).toMatchObject({ devices: 5, connected: 5, errors: 0 });
    } finally {
      await fleet.stop();
    }

    // A clean stop: each agent said goodbye and no camera feeds a stopped agent.
    for (const id of ids) expect(cloud.status.get(id)?.at(-1)?.state).toBe('offline');
    const frozen = fleet.stats();
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(fleet.stats().frames + fleet.stats().idle).toBe(frozen.frames + frozen.idle);
  });

  it('stops the devices already started when a later one cannot be provisioned', async () => {
    const idPrefix = `part${process.pid}`;
    const provisioner: DeviceProvisioner = {
      async provision(request) {
        if (request.deviceId.endsWith('-0001')) throw new Error(`no identity for ${request.deviceId}`);
        return { deviceId: request.deviceId, token: 'any' };
      },
    };
    await expect(
      SimulatedFleet.start({
        devices: 3,
        idPrefix,
        dataDir,
        provisioner,
        brokerUrl: broker.url,
        trustedKeys: [base64Encode(testSigningKey().publicRaw)],
        frames: () => new FrameCycle([{ image: brightFrame }]),
        startConcurrency: 1,
      }),
    ).rejects.toThrow(`no identity for ${idPrefix}-0001`);
    // Device 0 had started (and may have said `online`); it was stopped, not leaked.
    const first = `${idPrefix}-0000`;
    await eventually(
      () => cloud.status.get(first)?.at(-1)?.state === 'offline' || !cloud.status.has(first),
      3000,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(cloud.status.get(first)?.at(-1)?.state ?? 'never online').not.toBe('online');
    expect(cloud.status.has(`${idPrefix}-0002`)).toBe(false);
  });
});
