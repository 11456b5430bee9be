// The agent end to end against a real MQTT broker in this process (aedes) and a fake cloud that
// speaks the shared contract: desired → download → verify → activate → /infer → telemetry.
import { type SketchSpec, sketchSpecFingerprint, WindowSketch } from '@edgeloop/shared';
import { describe, expect, it } from 'vitest';
import { brightnessModel, signedDesired, solidImage } from './testing/agent-fixtures.ts';
import { infer, useAgentHarness } from './testing/agent-harness.ts';
import { eventually } from './testing/fake-cloud.ts';

const h = useAgentHarness();

describe('agent over MQTT', () => {
  it('applies a desired model, serves /infer with it and sends telemetry windows with sequence numbers', async () => {
    const { cloud, key } = h;
    const { agent, deviceId } = await h.agent();
    await eventually(() => agent.status().connected, 5000, 'connected');
    await eventually(() =>
      cloud.status.get(deviceId)?.some((s) => s.state === 'online' && s.bootId === agent.bootId),
    );

    // Before any model: /infer is unavailable, healthz says so.
    expect((await infer(agent, await solidImage(0))).status).toBe(503);
    expect((await fetch(`${agent.localUrl}/healthz`)).status).toBe(503);

    const v1 = brightnessModel('1');
    cloud.addArtifact(v1.bytes);
    await cloud.publishDesired(deviceId, signedDesired({ generation: 1, model: v1, key }));
    await eventually(() => agent.status().model?.sha256 === v1.manifest.sha256, 10_000, 'v1 active');

    const last = await eventually(
      () => cloud.lastReported(deviceId)?.phase.state === 'active' && cloud.lastReported(deviceId),
    );
    const phases = cloud.phases(deviceId);
    expect(phases).toContain('downloading');
    expect(phases.slice(-3)).toEqual(['verifying', 'activating', 'active']);
    expect(last).toMatchObject({
      generation: 1,
      rolloutId: 'rollout-1',
      active: { sha256: v1.manifest.sha256, version: '1' },
    });
    // 12 chunks asked for in windows of 4.
    expect(cloud.requests.filter((r) => r.deviceId === deviceId).length).toBeGreaterThanOrEqual(3);

    const white = await infer(agent, await solidImage(255));
    expect(white.status).toBe(200);
    expect(white.body).toMatchObject({ label: 'bright', classIndex: 1, model: { version: '1' } });
    expect(white.body.confidence).toBeGreaterThan(0.99);
    expect(white.body.topK).toHaveLength(3);
    const black = await infer(agent, await solidImage(0, 'jpeg'));
    expect(black.body.label).toBe('dark');

    // A corrupt image is the caller's error, in the shared envelope; the model keeps serving.
    const corrupt = await infer(agent, new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]));
    expect(corrupt.status).toBe(400);
    expect(corrupt.body.error?.code).toBe('VALIDATION_FAILED');

    await agent.flushTelemetry();
    await agent.flushTelemetry();
    const windows = await eventually(
      () => (cloud.telemetry.get(deviceId)?.length ?? 0) >= 2 && cloud.telemetry.get(deviceId),
    );
    expect(windows.map((w) => w.seq)).toEqual([0, 1]);
    // The request made before any model was active counts as an error too.
    expect(windows[0]).toMatchObject({
      inferences: 4,
      errors: 2,
      classCounts: [1, 1, 0],
      model: { version: '1' },
    });

    const metrics = await (await fetch(`${agent.localUrl}/metrics`)).text();
    expect(metrics).toMatch(/edgeloop_agent_inferences_total\{outcome="ok",device_id="[^"]+"\} 2/);
    expect(metrics).toMatch(/edgeloop_agent_model_info\{name="digits",version="1"/);
    expect(metrics).toMatch(
      /edgeloop_agent_inference_latency_seconds_count\{[^}]*model_version="1"[^}]*\} 2/,
    );
  });

  it('sketches every inference into the window when the manifest carries a sketch spec', async () => {
    const { cloud, key } = h;
    const { agent, deviceId } = await h.agent();
    const spec: SketchSpec = {
      v: 1,
      classes: 3,
      projection: null,
      features: [
        { name: 'brightness', edges: [0.25, 0.5, 0.75] },
        { name: 'contrast', edges: [0.01] },
        { name: 'confidence', edges: [0.5, 0.9] },
      ],
    };
    const v1 = brightnessModel('1', { overrides: { sketchSpec: spec } });
    cloud.addArtifact(v1.bytes);
    await cloud.publishDesired(deviceId, signedDesired({ generation: 1, model: v1, key }));
    await eventually(() => agent.status().model?.sha256 === v1.manifest.sha256, 10_000, 'v1 active');

    for (const value of [255, 255, 255, 0, 0])
      expect((await infer(agent, await solidImage(value))).status).toBe(200);
    await agent.flushTelemetry();
    const [window] = await eventually(
      () => (cloud.telemetry.get(deviceId)?.length ?? 0) >= 1 && cloud.telemetry.get(deviceId),
    );
    expect(window).toMatchObject({ inferences: 5, classCounts: [2, 3, 0] });
    expect(window!.sketches?.spec).toBe(sketchSpecFingerprint(spec));
    const sketch = WindowSketch.fromWire(window!.sketches, spec);
    expect(sketch.count).toBe(window!.inferences);
    expect(sketch.classCounts).toEqual(window!.classCounts);
    // Brightness from the preprocessed tensor: black images in the lowest bin, white in the highest.
    expect(sketch.histogram('brightness')?.counts).toEqual([2, 0, 0, 3]);
    expect(sketch.histogram('contrast')?.counts).toEqual([5, 0]); // solid images have no contrast
    expect(sketch.histogram('confidence')?.total).toBe(5);

    // A window with no inferences carries no sketch.
    await agent.flushTelemetry();
    const windows = await eventually(
      () => (cloud.telemetry.get(deviceId)?.length ?? 0) >= 2 && cloud.telemetry.get(deviceId),
    );
    expect(windows[1]!.sketches).toBeUndefined();
  });

  it('sends no sketches for a manifest without a sketch spec', async () => {
    const { cloud, key } = h;
    const { agent, deviceId } = await h.agent();
    const v1 = brightnessModel('1');
    cloud.addArtifact(v1.bytes);
    await cloud.publishDesired(deviceId, signedDesired({ generation: 1, model: v1, key }));
    await eventually(() => agent.status().model?.sha256 === v1.manifest.sha256, 10_000, 'v1 active');
    expect((await infer(agent, await solidImage(255))).status).toBe(200);
    await agent.flushTelemetry();
    const [window] = await eventually(
      () => (cloud.telemetry.get(deviceId)?.length ?? 0) >= 1 && cloud.telemetry.get(deviceId),
    );
    expect(window).toMatchObject({ inferences: 1 });
    expect(window!.sketches).toBeUndefined();
  });

  it('swaps models without failing requests in flight', async () => {
    const { cloud, key } = h;
    const { agent, deviceId } = await h.agent();
    const v1 = brightnessModel('1');
    const v2 = brightnessModel('2', { labelPrefix: 'v2-' });
    cloud.addArtifact(v1.bytes);
    cloud.addArtifact(v2.bytes);
    await cloud.publishDesired(deviceId, signedDesired({ generation: 1, model: v1, key }));
    await eventually(() => agent.status().model?.version === '1', 10_000, 'v1 active');

    const image = await solidImage(255);
    let stop = false;
    const statuses: number[] = [];
    const labels = new Set<string>();
    const load = (async () => {
      while (!stop) {
        const result = await infer(agent, image);
        statuses.push(result.status);
        if (result.body.label) labels.add(result.body.label);
      }
    })();
    await cloud.publishDesired(deviceId, signedDesired({ generation: 2, model: v2, key }));
    await eventually(() => agent.status().model?.version === '2', 10_000, 'v2 active');
    await eventually(() => labels.has('v2-bright'), 5000, 'a request served by v2');
    stop = true;
    await load;
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(labels).toEqual(new Set(['bright', 'v2-bright']));
    const report = await eventually(
      () => cloud.lastReported(deviceId)?.phase.state === 'active' && cloud.lastReported(deviceId),
    );
    expect(report).toMatchObject({ generation: 2, active: { version: '2' }, previous: { version: '1' } });
  });

  it('rolls back to the confirmed model when the new one keeps the agent from staying up', async () => {
    const { cloud, key } = h;
    const tuning = { healthConfirmInferences: 2, maxBootAttempts: 2 };
    const first = await h.agent({ tuning });
    const { deviceId, dataDir } = first;
    const v1 = brightnessModel('1');
    const v2 = brightnessModel('2');
    cloud.addArtifact(v1.bytes);
    cloud.addArtifact(v2.bytes);
    await cloud.publishDesired(deviceId, signedDesired({ generation: 1, model: v1, key }));
    await eventually(() => first.agent.status().model?.version === '1', 10_000, 'v1 active');
    let confirmed = false;
    first.agent.events.on('modelConfirmed', first, () => {
      confirmed = true;
    });
    await infer(first.agent, await solidImage(0));
    await infer(first.agent, await solidImage(0));
    await eventually(() => confirmed, 2000, 'v1 confirmed');

    await cloud.publishDesired(deviceId, signedDesired({ generation: 2, model: v2, key }));
    await eventually(() => first.agent.status().model?.version === '2', 10_000, 'v2 active');
    await first.agent.stop({ graceful: false }); // "crash" before v2 is confirmed
    const second = await h.agent({ deviceId, dataDir, tuning });
    expect(second.agent.status().model?.version).toBe('2');
    await second.agent.stop({ graceful: false }); // and again
    const third = await h.agent({ deviceId, dataDir, tuning });
    expect(third.agent.status().model?.version).toBe('1');
    const rolledBack = await eventually(
      () => cloud.reported.get(deviceId)?.find((r) => r.phase.state === 'rolled_back'),
      5000,
      'rolled_back report',
    );
    expect(rolledBack.phase).toMatchObject({ reason: 'CRASH_LOOP', sha256: v2.manifest.sha256 });
    expect(rolledBack.active?.version).toBe('1');
    // The desired state still names v2, but it is not tried again until a newer one is issued.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(third.agent.status().model?.version).toBe('1');
    expect((await infer(third.agent, await solidImage(255))).body.model?.version).toBe('1');
  });
});
