// Shadow mode end to end: a real agent, the in-process broker and the fake cloud. The desired state
// names a shadow model; the agent fetches and verifies it over MQTT, runs it beside the active model
// and reports agreement in its telemetry windows, while the active model keeps serving throughout.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { DesiredStateInput, Signature } from '@edgeloop/shared';
import { describe, expect, it } from 'vitest';
import type { AgentHandle } from '../../agent.ts';
import { brightnessModel, signedDesired, solidImage, type TestModel } from '../../testing/agent-fixtures.ts';
import { infer, useAgentHarness } from '../../testing/agent-harness.ts';
import { eventually } from '../../testing/fake-cloud.ts';
import {
  signTestManifest,
  type TestSigningKey,
  testManifest,
  testSigningKey,
} from '../../testing/fixtures.ts';
import { linearClassifierModel } from '../../testing/onnx-models.ts';

const h = useAgentHarness();

/** A desired state with `model` active and `shadow` beside it. */
function withShadow(
  options: Parameters<typeof signedDesired>[0] & {
    shadow: TestModel | null;
    rate?: number;
    shadowKey?: TestSigningKey;
  },
): DesiredStateInput {
  const { shadow } = options;
  return {
    ...signedDesired(options),
    shadow: shadow && {
      model: {
        manifest: shadow.manifest,
        signature: signTestManifest(shadow.manifest, options.shadowKey ?? options.key) as Signature,
        delivery: { chunkSize: 1024, chunks: Math.ceil(shadow.manifest.size / 1024) },
      },
      rate: options.rate ?? 1,
    },
  };
}

/**
 * A 16×16 model (so the agent must preprocess frames again for it) with the brightness model's
 * labels that answers `bright` whatever it sees: it agrees with the active model on white frames only.
 */
function alwaysBrightModel(): TestModel {
  const side = 16;
  const bytes = linearClassifierModel({
    inputShape: ['batch', 1, side, side],
    weights: new Float32Array(side * side * 3),
    bias: new Float32Array([0, 8, 0]),
    outputs: ['probabilities'],
  });
  const manifest = testManifest(bytes, {
    version: '7',
    input: { name: 'input', shape: ['batch', 1, side, side], dtype: 'float32' },
    classes: ['dark', 'bright', 'grey'],
    preprocessing: { layout: 'NCHW', channels: 1, height: side, width: side },
  });
  return { bytes, manifest };
}

async function shadowReady(deviceId: string, sha256: string): Promise<void> {
  await eventually(
    () => {
      const shadow = h.cloud.lastReported(deviceId)?.shadow;
      return shadow?.sha256 === sha256 && shadow.state === 'ready';
    },
    10_000,
    'shadow ready',
  );
}

/** Infers each value's solid image in turn, waiting for the shadow run so none is skipped. */
async function inferAll(agent: AgentHandle, values: number[]): Promise<string[]> {
  const labels: string[] = [];
  for (const value of values) {
    const result = await infer(agent, await solidImage(value));
    expect(result.status).toBe(200);
    labels.push(result.body.label as string);
    await agent.shadowIdle();
  }
  return labels;
}

async function lastWindow(agent: AgentHandle, deviceId: string) {
  const before = h.cloud.telemetry.get(deviceId)?.length ?? 0;
  await agent.flushTelemetry();
  const windows = await eventually(
    () => (h.cloud.telemetry.get(deviceId)?.length ?? 0) > before && h.cloud.telemetry.get(deviceId),
  );
  return windows.at(-1)!;
}

async function metricValue(agent: AgentHandle, name: string, label: string): Promise<number> {
  const text = await (await fetch(`${agent.localUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(label));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('shadow mode', () => {
  it('fetches and verifies the shadow, runs it beside the active model and reports agreement', async () => {
    const { cloud, key } = h;
    const { agent, deviceId, dataDir } = await h.agent();
    const v1 = brightnessModel('1');
    const v2 = brightnessModel('2');
    cloud.addArtifact(v1.bytes);
    cloud.addArtifact(v2.bytes);
    await cloud.publishDesired(deviceId, withShadow({ generation: 1, model: v1, key, shadow: v2 }));
    await shadowReady(deviceId, v2.manifest.sha256);
    await eventually(() => agent.status().model?.sha256 === v1.manifest.sha256, 10_000, 'v1 active');
    // Fetched over MQTT like the main model, into its own folder; the slots hold only v1.
    expect(cloud.requests.some((r) => r.deviceId === deviceId && r.sha256 === v2.manifest.sha256)).toBe(true);
    expect(await readdir(join(dataDir, 'shadow'))).toEqual([`${v2.manifest.sha256}.artifact`]);
    expect(agent.status()).toMatchObject({ previous: null, shadow: { state: 'ready' } });

    const labels = await inferAll(agent, [255, 0, 255, 0, 0]);
    expect(labels).toEqual(['bright', 'dark', 'bright', 'dark', 'dark']); // v1 answers
    const window = await lastWindow(agent, deviceId);
    expect(window).toMatchObject({ inferences: 5, model: { version: '1' } });
    expect(window.shadow).toMatchObject({
      model: { version: '2', sha256: v2.manifest.sha256 },
      frames: 5,
      agreements: 5,
      errors: 0,
      latencyMs: { count: 5 },
    });
    expect(await metricValue(agent, 'edgeloop_agent_shadow_inferences_total', 'outcome="agreed"')).toBe(5);

    // Rate 0 (a new generation, same shadow): kept loaded, not run.
    await cloud.publishDesired(deviceId, withShadow({ generation: 2, model: v1, key, shadow: v2, rate: 0 }));
    await eventually(() => cloud.lastReported(deviceId)?.generation === 2);
    await inferAll(agent, [255, 0]);
    const quiet = await lastWindow(agent, deviceId);
    expect(quiet.inferences).toBe(2);
    expect(quiet.shadow).toBeUndefined();
    expect(agent.status().shadow?.state).toBe('ready');
  });

  it('reports low agreement for a shadow that disagrees, preprocessing frames again for its input size', async () => {
    const { cloud, key } = h;
    const { agent, deviceId } = await h.agent();
    const v1 = brightnessModel('1');
    const bright = alwaysBrightModel();
    cloud.addArtifact(v1.bytes);
    cloud.addArtifact(bright.bytes);
    await cloud.publishDesired(deviceId, withShadow({ generation: 1, model: v1, key, shadow: bright }));
    await shadowReady(deviceId, bright.manifest.sha256);
    await eventually(() => agent.status().model?.sha256 === v1.manifest.sha256, 10_000, 'v1 active');

    const values = [0, 0, 255, 0, 0, 0, 0, 255];
    const labels = await inferAll(agent, values);
    const window = await lastWindow(agent, deviceId);
    const expectedAgreements = labels.filter((l) => l === 'bright').length;
    expect(expectedAgreements).toBe(2);
    expect(window.shadow).toMatchObject({ frames: values.length, agreements: expectedAgreements, errors: 0 });
    expect(window.shadow!.agreements + window.shadow!.errors).toBeLessThanOrEqual(window.shadow!.frames);
    expect(await metricValue(agent, 'edgeloop_agent_shadow_inferences_total', 'outcome="disagreed"')).toBe(6);
  });

  it('refuses a shadow with a forged signature without downloading it; the active model keeps serving', async () => {
    const { cloud, key } = h;
    const { agent, deviceId, dataDir } = await h.agent();
    const v1 = brightnessModel('1');
    const v2 = brightnessModel('2');
    cloud.addArtifact(v1.bytes);
    cloud.addArtifact(v2.bytes);
    await cloud.publishDesired(
      deviceId,
      withShadow({ generation: 1, model: v1, key, shadow: v2, shadowKey: testSigningKey() }),
    );
    const failed = await eventually(
      () => cloud.lastReported(deviceId)?.shadow?.state === 'failed' && cloud.lastReported(deviceId)?.shadow,
      10_000,
      'shadow failed',
    );
    expect(failed).toMatchObject({ sha256: v2.manifest.sha256, reason: 'SIGNATURE_INVALID' });
    expect(failed.message).toMatch(/unknown key/);
    await eventually(() => agent.status().model?.sha256 === v1.manifest.sha256, 10_000, 'v1 active');
    expect(cloud.requests.some((r) => r.deviceId === deviceId && r.sha256 === v2.manifest.sha256)).toBe(
      false,
    );
    expect(await readdir(join(dataDir, 'shadow'))).toEqual([]);

    expect(await inferAll(agent, [255])).toEqual(['bright']);
    const window = await lastWindow(agent, deviceId);
    expect(window.inferences).toBe(1);
    expect(window.shadow).toBeUndefined();
  });

  it('reports a shadow equal to the active model as a conflict and runs nothing', async () => {
    const { cloud, key } = h;
    const { agent, deviceId } = await h.agent();
    const v1 = brightnessModel('1');
    cloud.addArtifact(v1.bytes);
    await cloud.publishDesired(deviceId, withShadow({ generation: 1, model: v1, key, shadow: v1 }));
    await eventually(() => agent.status().model?.sha256 === v1.manifest.sha256, 10_000, 'v1 active');
    await eventually(() => cloud.lastReported(deviceId)?.shadow?.state === 'failed', 5000, 'conflict');
    expect(cloud.lastReported(deviceId)?.shadow?.reason).toBe('CONFLICT');
    await inferAll(agent, [0]);
    expect((await lastWindow(agent, deviceId)).shadow).toBeUndefined();
  });

  it('unloads the shadow and deletes its files when the desired state drops it', async () => {
    const { cloud, key } = h;
    const { agent, deviceId, dataDir } = await h.agent();
    const v1 = brightnessModel('1');
    const v2 = brightnessModel('2');
    cloud.addArtifact(v1.bytes);
    cloud.addArtifact(v2.bytes);
    await cloud.publishDesired(deviceId, withShadow({ generation: 1, model: v1, key, shadow: v2 }));
    await shadowReady(deviceId, v2.manifest.sha256);
    await eventually(() => agent.status().model?.sha256 === v1.manifest.sha256, 10_000, 'v1 active');
    await inferAll(agent, [255]);

    await cloud.publishDesired(deviceId, signedDesired({ generation: 2, model: v1, key }));
    await eventually(() => {
      const last = cloud.lastReported(deviceId);
      return last?.generation === 2 && last.shadow === undefined;
    });
    await agent.shadowIdle();
    expect(agent.status().shadow).toBeNull();
    expect(await readdir(join(dataDir, 'shadow'))).toEqual([]);
    expect(await inferAll(agent, [255, 0])).toEqual(['bright', 'dark']);
    const window = await lastWindow(agent, deviceId);
    // The frame run before the removal still counts in this window; none after it.
    expect(window.inferences).toBe(3);
    expect(window.shadow).toMatchObject({ frames: 1, agreements: 1 });
    expect(await metricValue(agent, 'edgeloop_agent_shadow_inferences_total', 'outcome="agreed"')).toBe(1);
  });

  it('reloads the shadow from its folder after a restart without fetching it again', async () => {
    const { cloud, key } = h;
    const first = await h.agent();
    const v1 = brightnessModel('1');
    const v2 = brightnessModel('2');
    cloud.addArtifact(v1.bytes);
    cloud.addArtifact(v2.bytes);
    await cloud.publishDesired(first.deviceId, withShadow({ generation: 1, model: v1, key, shadow: v2 }));
    await shadowReady(first.deviceId, v2.manifest.sha256);
    // The champion may still be downloading when the shadow is ready: wait for both, so every
    // request counted below belongs to the first run.
    await eventually(() => first.agent.status().model?.sha256 === v1.manifest.sha256, 10_000, 'v1 active');
    await first.agent.stop();
    const requests = cloud.requests.filter((r) => r.deviceId === first.deviceId).length;

    const { agent } = await h.agent({ deviceId: first.deviceId, dataDir: first.dataDir });
    await eventually(() => agent.status().shadow?.state === 'ready', 10_000, 'shadow ready again');
    await eventually(() => agent.status().model?.sha256 === v1.manifest.sha256, 10_000, 'v1 active');
    expect(cloud.requests.filter((r) => r.deviceId === first.deviceId)).toHaveLength(requests);
    await inferAll(agent, [255]);
    expect((await lastWindow(agent, first.deviceId)).shadow).toMatchObject({ frames: 1, agreements: 1 });
  });

  it('promotes the shadow with an ordinary desired state, reusing its verified file', async () => {
    const { cloud, key } = h;
    const { agent, deviceId, dataDir } = await h.agent();
    const v1 = brightnessModel('1');
    const v2 = brightnessModel('2');
    cloud.addArtifact(v1.bytes);
    cloud.addArtifact(v2.bytes);
    await cloud.publishDesired(deviceId, withShadow({ generation: 1, model: v1, key, shadow: v2 }));
    await shadowReady(deviceId, v2.manifest.sha256);
    await eventually(() => agent.status().model?.sha256 === v1.manifest.sha256, 10_000, 'v1 active');
    const forV2 = (r: { deviceId: string; sha256: string }) =>
      r.deviceId === deviceId && r.sha256 === v2.manifest.sha256;
    const requestsForV2 = cloud.requests.filter(forV2).length;
    expect(requestsForV2).toBeGreaterThan(0);

    await cloud.publishDesired(deviceId, signedDesired({ generation: 2, model: v2, key }));
    await eventually(() => agent.status().model?.sha256 === v2.manifest.sha256, 10_000, 'v2 active');
    await agent.shadowIdle();
    expect(cloud.requests.filter(forV2)).toHaveLength(requestsForV2);
    expect(agent.status()).toMatchObject({ previous: { version: '1' }, shadow: null });
    expect(await readdir(join(dataDir, 'shadow'))).toEqual([]);
    expect((await inferAll(agent, [255]))[0]).toBe('bright');
  });
});
