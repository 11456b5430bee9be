// Retraining samples end to end: real agents against a broker in this process and the fake cloud,
// samples decoded with the shared schema on arrival. Covers the /infer `label` parameter, the hourly
// budget, a profile without sampling, the offline queue, and ground truth from the simulator's camera.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { base64Decode, base64Encode, type DeviceProfile, type Sample } from '@edgeloop/shared';
import { describe, expect, it } from 'vitest';
import type { AgentHandle } from '../../agent.ts';
import { ImagePreprocessor, type RawImage } from '../../preprocess.ts';
import { SimulatedFleet } from '../../sim/fleet.ts';
import { FrameCycle } from '../../sim/frame-source.ts';
import { SharedTokenProvisioner } from '../../sim/provisioner.ts';
import { brightnessModel, signedDesired, solidImage, TEST_PROFILE } from '../../testing/agent-fixtures.ts';
import { type AgentHarness, useAgentHarness } from '../../testing/agent-harness.ts';
import { eventually } from '../../testing/fake-cloud.ts';

const h = useAgentHarness();
const FAST = { samplesFlushMs: 50, telemetryWindowMs: 60_000 };

/** The test profile with sampling on: every inference below 0.5 confidence, none at random. */
const sampling = (overrides: Partial<DeviceProfile['sampling']> = {}): DeviceProfile => ({
  ...TEST_PROFILE,
  sampling: { enabled: true, rate: 0, lowConfidenceThreshold: 0.5, maxPerHour: 3600, ...overrides },
});

async function servingV1(harness: AgentHarness, agent: AgentHandle, deviceId: string) {
  const v1 = brightnessModel('1');
  harness.cloud.addArtifact(v1.bytes);
  await harness.cloud.publishDesired(deviceId, signedDesired({ generation: 1, model: v1, key: harness.key }));
  await eventually(() => agent.status().model?.sha256 === v1.manifest.sha256, 10_000, 'v1 active');
  return v1;
}

async function post(agent: AgentHandle, image: Uint8Array, query = '') {
  const response = await fetch(`${agent.localUrl}/infer${query}`, { method: 'POST', body: image });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const samplesOf = (deviceId: string): Sample[] =>
  (h.cloud.samples.get(deviceId) ?? []).flatMap((batch) => batch.samples);

function decodeTensor(sample: Sample): number[] {
  const bytes = base64Decode(sample.tensor.data);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

/** One series of the agent's /metrics, summed over the series that carry `labels`. */
async function metric(agent: AgentHandle, name: string, labels: Record<string, string> = {}) {
  const text = await (await fetch(`${agent.localUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      sum += Number(line.split(' ')[1]);
  }
  return sum;
}

describe('retraining samples from an agent', () => {
  it('sends the preprocessed input of unsure inferences with the label given to /infer, within the hourly budget', async () => {
    // 180 an hour: a burst of 3, then one a minute (so none more within this test).
    const { agent, deviceId } = await h.agent({ tuning: FAST }, { profile: sampling({ maxPerHour: 180 }) });
    const v1 = await servingV1(h, agent, deviceId);
    const grey = await solidImage(128); // the brightness model is unsure of grey (~0.34)
    const white = await solidImage(255);
    for (let i = 0; i < 5; i++) expect((await post(agent, grey, '?label=2')).status).toBe(200);
    expect((await post(agent, white, '?label=1')).body).toMatchObject({ label: 'bright' });

    await eventually(() => samplesOf(deviceId).length >= 3, 5000, 'three samples');
    await new Promise((resolve) => setTimeout(resolve, 300)); // several flush intervals
    const samples = samplesOf(deviceId);
    expect(samples).toHaveLength(3);
    expect(h.cloud.badSamples).toEqual([]);
    const expected = Array.from(await new ImagePreprocessor(v1.manifest.preprocessing).tensor(grey));
    for (const sample of samples) {
      expect(sample).toMatchObject({
        model: { sha256: v1.manifest.sha256, version: '1' },
        reason: 'low-confidence',
        label: 2,
        windowSeq: 0,
        tensor: { shape: [1, 1, 32, 32] },
      });
      expect(sample.prediction.confidence).toBeLessThan(0.5);
      const values = decodeTensor(sample);
      expect(values).toHaveLength(32 * 32);
      expect(values).toEqual(expected);
    }
    expect(new Set(samples.map((s) => s.id)).size).toBe(3);
    expect(await metric(agent, 'edgeloop_agent_samples_kept_total', { reason: 'low-confidence' })).toBe(3);
    expect(await metric(agent, 'edgeloop_agent_samples_sent_total')).toBe(3);
    expect(await metric(agent, 'edgeloop_agent_samples_dropped_total', { cause: 'rate_limited' })).toBe(2);

    // The window the samples belong to is the next one telemetry sends.
    await agent.flushTelemetry();
    const [window] = await eventually(() => h.cloud.telemetry.get(deviceId));
    expect(window?.seq).toBe(0);
  });

  it('refuses a label that is not a class index of the model, clearly and counted', async () => {
    const { agent, deviceId } = await h.agent({ tuning: FAST }, { profile: sampling() });
    await servingV1(h, agent, deviceId);
    const grey = await solidImage(128);
    const junk = await post(agent, grey, '?label=two');
    expect(junk.status).toBe(400);
    expect(junk.body).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
    const outOfRange = await post(agent, grey, '?label=3'); // three classes: 0..2
    expect(outOfRange.status).toBe(400);
    expect(JSON.stringify(outOfRange.body)).toMatch(/label must be a class index from 0 to 2/);
    expect(await metric(agent, 'edgeloop_agent_inference_errors_total', { code: 'VALIDATION_FAILED' })).toBe(
      1,
    );
    await expect(agent.infer(grey, 1, { label: -1 })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(agent.status().samples.kept).toBe(0);
  });

  it('sends nothing when the profile does not enable sampling', async () => {
    const { agent, deviceId } = await h.agent({ tuning: FAST }); // TEST_PROFILE: sampling off
    await servingV1(h, agent, deviceId);
    const grey = await solidImage(128);
    for (let i = 0; i < 3; i++) expect((await post(agent, grey, '?label=2')).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 200)); // four flush intervals
    await agent.flushTelemetry(); // published after any sample would have been
    await eventually(() => h.cloud.telemetry.get(deviceId)?.length === 1);
    expect(h.cloud.samples.get(deviceId)).toBeUndefined();
    expect(agent.status().samples).toEqual({ queued: 0, kept: 0, sent: 0, dropped: 0 });
    expect(await metric(agent, 'edgeloop_agent_samples_kept_total')).toBe(0);
  });

  it('offline, keeps only the newest samples in a small queue, counts the drops, and sends them on reconnect', async () => {
    const { agent, deviceId } = await h.agent(
      { tuning: { ...FAST, samplesQueueMax: 2 } },
      { profile: sampling() },
    );
    await servingV1(h, agent, deviceId);
    await h.broker.down({ keepState: true });
    await eventually(() => !agent.status().connected);
    const grey = await solidImage(128);
    for (const label of [0, 1, 2, 0, 1, 2]) await agent.infer(grey, 1, { label });
    expect(agent.status().samples).toEqual({ queued: 2, kept: 6, sent: 0, dropped: 4 });
    expect(await metric(agent, 'edgeloop_agent_samples_dropped_total', { cause: 'queue_full' })).toBe(4);
    await h.broker.up();
    await eventually(() => samplesOf(deviceId).length >= 2, 10_000, 'queued samples after reconnect');
    expect(samplesOf(deviceId).map((s) => s.label)).toEqual([1, 2]);
    expect(agent.status().samples).toMatchObject({ queued: 0, sent: 2 });
  });
});

describe('retraining samples from the simulator', () => {
  it("carry the synthetic camera's ground truth with the frame it belongs to", async () => {
    const side = 32;
    const frameOf = (level: number): RawImage => ({
      data: new Uint8Array(side * side).fill(level),
      width: side,
      height: side,
      channels: 1,
    });
    // Dark frames are labelled 0 and bright ones 1; a frame's tensor says which it was.
    const frames = [
      { image: frameOf(20), label: 0 },
      { image: frameOf(235), label: 1 },
    ];
    const model = brightnessModel('1');
    h.cloud.addArtifact(model.bytes);
    const dataDir = await mkdtemp(join(tmpdir(), 'el-sim-samples-'));
    const fleet = await SimulatedFleet.start({
      devices: 2,
      idPrefix: `smp${process.pid}`,
      dataDir,
      provisioner: new SharedTokenProvisioner('any'),
      brokerUrl: h.broker.url,
      trustedKeys: [base64Encode(h.key.publicRaw)],
      frames: (device) => new FrameCycle(frames, device.index),
      fps: 40,
      // Every frame at random, within a burst of 60.
      resolveProfile: async () => sampling({ rate: 1, lowConfidenceThreshold: 0 }),
      tuning: { reconnect: { initialMs: 50, maxMs: 400 }, chunkQuietMs: 300, ...FAST },
    });
    try {
      const ids = fleet.devices.map((d) => d.deviceId);
      for (const id of ids)
        await h.cloud.publishDesired(id, signedDesired({ generation: 1, model, key: h.key }));
      await eventually(
        () => ids.every((id) => samplesOf(id).length >= 6),
        10_000,
        'samples from each device',
      );
      for (const id of ids) {
        for (const sample of samplesOf(id)) {
          const mean = decodeTensor(sample).reduce((a, b) => a + b, 0) / (side * side);
          expect(sample.reason).toBe('random');
          expect(sample.label).toBe(mean > 0.5 ? 1 : 0);
        }
        expect(new Set(samplesOf(id).map((s) => s.label))).toEqual(new Set([0, 1]));
      }
    } finally {
      await fleet.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
