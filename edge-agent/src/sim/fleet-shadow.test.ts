// The simulator with shadow mode: its devices are real agents, so a desired state naming a shadow
// model makes each one fetch it and run it on camera frames; the windows carry the shadow summary.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { base64Encode, type Signature } from '@edgeloop/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawImage } from '../preprocess.ts';
import { brightnessModel, signedDesired } from '../testing/agent-fixtures.ts';
import { startTestBroker, type TestBroker } from '../testing/broker.ts';
import { eventually, FakeCloud } from '../testing/fake-cloud.ts';
import { signTestManifest, testSigningKey } from '../testing/fixtures.ts';
import { SimulatedFleet } from './fleet.ts';
import { FrameCycle } from './frame-source.ts';
import { SharedTokenProvisioner } from './provisioner.ts';

const brightFrame: RawImage = { data: new Uint8Array(32 * 32).fill(230), width: 32, height: 32, channels: 1 };

let broker: TestBroker;
let cloud: FakeCloud;
let dataDir: string;

beforeAll(async () => {
  broker = await startTestBroker();
  cloud = await FakeCloud.connect(broker.url);
  dataDir = await mkdtemp(join(tmpdir(), 'el-sim-shadow-'));
});
afterAll(async () => {
  await cloud?.close();
  await broker?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('SimulatedFleet with a shadow model', () => {
  it('runs the shadow on camera frames and reports it in each device window', async () => {
    const key = testSigningKey();
    const v1 = brightnessModel('1');
    const v2 = brightnessModel('2');
    cloud.addArtifact(v1.bytes);
    cloud.addArtifact(v2.bytes);
    const fleet = await SimulatedFleet.start({
      devices: 2,
      idPrefix: `shadow${process.pid}`,
      dataDir,
      provisioner: new SharedTokenProvisioner('any'),
      brokerUrl: broker.url,
      trustedKeys: [base64Encode(key.publicRaw)],
      frames: () => new FrameCycle([{ image: brightFrame, label: 1 }]),
      fps: 40,
      seed: 3,
      tuning: { reconnect: { initialMs: 50, maxMs: 400 }, chunkQuietMs: 300, telemetryWindowMs: 60_000 },
    });
    const ids = fleet.devices.map((d) => d.deviceId);
    try {
      for (const id of ids) {
        await cloud.publishDesired(id, {
          ...signedDesired({ generation: 1, model: v1, key }),
          shadow: {
            model: {
              manifest: v2.manifest,
              signature: signTestManifest(v2.manifest, key) as Signature,
              delivery: { chunkSize: 1024, chunks: Math.ceil(v2.manifest.size / 1024) },
            },
            rate: 1,
          },
        });
      }
      await eventually(
        () => ids.every((id) => fleet.agent(id)?.status().shadow?.state === 'ready'),
        8000,
        'shadow ready on every device',
      );
      await eventually(() => fleet.stats().models['digits@1/fp32'] === 2, 8000, 'v1 on every device');
      const settle = async () => {
        await fleet.pause();
        await Promise.all(ids.map((id) => fleet.agent(id)?.shadowIdle()));
        await fleet.flushTelemetry();
      };
      await settle(); // window A: frames from before the shadow was ready
      fleet.resume();
      await eventually(() => ids.every((id) => fleet.deviceStats(id).inferences >= 10), 5000, 'frames');
      await settle();
      const windows = await eventually(
        () => {
          const lists = ids.map((id) => cloud.telemetry.get(id) ?? []);
          return lists.every((list) => list.length >= 2) && lists.map((list) => list.at(-1)!);
        },
        5000,
        'window B of every device',
      );
      for (const window of windows) {
        // Rate 1: every frame was either run by the shadow or skipped while it was busy.
        expect(window.inferences).toBeGreaterThan(0);
        expect(window.shadow?.model.sha256).toBe(v2.manifest.sha256);
        expect(window.shadow!.frames).toBeGreaterThan(0);
        expect(window.shadow!.frames).toBeLessThanOrEqual(window.inferences);
        // v2 has v1's weights: it agrees on every frame.
        expect(window.shadow).toMatchObject({ agreements: window.shadow!.frames, errors: 0 });
        expect(window.shadow!.latencyMs?.count).toBe(window.shadow!.frames);
      }
      expect(fleet.stats().errors).toBe(0);
    } finally {
      await fleet.stop();
    }
  });
});
