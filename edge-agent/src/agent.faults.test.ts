// Bad input and faults, each against a real broker: whatever happens, the agent keeps serving its last
// good model, reports what happened on `reported`, and loses nothing it promised to keep.
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AgentHandle } from './agent.ts';
import type { ActivationStep, UpdateHooks } from './features/update.ts';
import { brightnessModel, signedDesired, solidImage, type TestModel } from './testing/agent-fixtures.ts';
import { type AgentHarness, infer, useAgentHarness } from './testing/agent-harness.ts';
import { eventually } from './testing/fake-cloud.ts';
import { signTestManifest, testManifest, testSigningKey } from './testing/fixtures.ts';

const h = useAgentHarness();

/** An agent already serving v1 (generation 1). */
async function agentServingV1(
  harness: AgentHarness,
): Promise<{ agent: AgentHandle; deviceId: string; v1: TestModel }> {
  const { agent, deviceId } = await harness.agent();
  const v1 = brightnessModel('1');
  harness.cloud.addArtifact(v1.bytes);
  await harness.cloud.publishDesired(deviceId, signedDesired({ generation: 1, model: v1, key: harness.key }));
  await eventually(() => agent.status().model?.sha256 === v1.manifest.sha256, 10_000, 'v1 active');
  await eventually(() => h.cloud.lastReported(deviceId)?.phase.state === 'active');
  return { agent, deviceId, v1 };
}

async function expectServesV1(agent: AgentHandle): Promise<void> {
  const result = await infer(agent, await solidImage(255));
  expect(result.status).toBe(200);
  expect(result.body).toMatchObject({ label: 'bright', model: { version: '1' } });
}

const phaseOf = (deviceId: string) => h.cloud.lastReported(deviceId)?.phase;
const rejectedWith = (deviceId: string, reason: string) => {
  const phase = phaseOf(deviceId);
  return phase?.state === 'rejected' && phase.reason === reason;
};
const requestsFor = (deviceId: string) => h.cloud.requests.filter((r) => r.deviceId === deviceId);

describe('desired states that must not be acted on', () => {
  it('rejects a manifest signed by an unknown key and keeps serving the old model', async () => {
    const { agent, deviceId } = await agentServingV1(h);
    const v2 = brightnessModel('2');
    h.cloud.addArtifact(v2.bytes);
    const forged = signedDesired({ generation: 2, model: v2, key: testSigningKey() });
    await h.cloud.publishDesired(deviceId, forged);
    const phase = await eventually(() => phaseOf(deviceId)?.state === 'rejected' && phaseOf(deviceId));
    expect(phase).toMatchObject({ reason: 'SIGNATURE_INVALID', generation: 2 });
    expect(h.cloud.lastReported(deviceId)?.active?.version).toBe('1');
    await expectServesV1(agent);
    expect(requestsFor(deviceId).filter((r) => r.sha256 === v2.manifest.sha256)).toEqual([]);
  });

  it('rejects a valid signature over a different manifest (tampered size) without downloading', async () => {
    const { agent, deviceId } = await agentServingV1(h);
    const v2 = brightnessModel('2');
    const desired = signedDesired({ generation: 2, model: v2, key: h.key });
    const tampered = {
      ...desired,
      model: { ...desired.model!, manifest: { ...v2.manifest, classes: ['a', 'b', 'c'] } },
    };
    const before = requestsFor(deviceId).length;
    await h.cloud.publishDesired(deviceId, tampered);
    await eventually(() => phaseOf(deviceId)?.state === 'rejected');
    expect(phaseOf(deviceId)).toMatchObject({ reason: 'SIGNATURE_INVALID' });
    expect(requestsFor(deviceId).length).toBe(before);
    await expectServesV1(agent);
  });

  it('rejects malformed JSON and schema violations, naming the reason', async () => {
    const { agent, deviceId } = await agentServingV1(h);
    await h.cloud.publishDesired(deviceId, '{"v":1,"generation":');
    await eventually(() => phaseOf(deviceId)?.state === 'rejected');
    expect(phaseOf(deviceId)).toMatchObject({ reason: 'MALFORMED_JSON' });

    const v2 = brightnessModel('2');
    const bad = { ...signedDesired({ generation: 3, model: v2, key: h.key }), generation: -1 };
    await h.cloud.publishDesired(deviceId, JSON.stringify(bad));
    await eventually(() => rejectedWith(deviceId, 'VALIDATION_FAILED'));
    expect((phaseOf(deviceId) as { message: string }).message).toMatch(/generation/);

    await h.cloud.publishDesired(deviceId, JSON.stringify({ ...bad, generation: 4, v: 2 }));
    await eventually(() => rejectedWith(deviceId, 'SCHEMA_VERSION_UNSUPPORTED'));
    await expectServesV1(agent);
    expect(agent.status().model?.version).toBe('1');
  });

  it('ignores a stale generation', async () => {
    const { agent, deviceId } = await agentServingV1(h);
    const reportsBefore = h.cloud.reported.get(deviceId)?.length ?? 0;
    const v0 = brightnessModel('3');
    h.cloud.addArtifact(v0.bytes);
    await h.cloud.publishDesired(deviceId, signedDesired({ generation: 0, model: v0, key: h.key }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(h.cloud.reported.get(deviceId)?.length ?? 0).toBe(reportsBefore);
    expect(agent.status().model?.version).toBe('1');
  });
});

describe('artifacts that must not become active', () => {
  it('fails an update whose model fails its golden check, and keeps serving the old model', async () => {
    const { agent, deviceId } = await agentServingV1(h);
    const bad = brightnessModel('2', { goldenShift: 0.05 });
    h.cloud.addArtifact(bad.bytes);
    await h.cloud.publishDesired(deviceId, signedDesired({ generation: 2, model: bad, key: h.key }));
    const phase = await eventually(() => phaseOf(deviceId)?.state === 'failed' && phaseOf(deviceId));
    expect(phase).toMatchObject({ reason: 'GOLDEN_CHECK_FAILED', sha256: bad.manifest.sha256 });
    expect(h.cloud.lastReported(deviceId)?.active?.version).toBe('1');
    await expectServesV1(agent);
    // Permanent for this generation: no retry after the retry delay.
    const requests = requestsFor(deviceId).length;
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(requestsFor(deviceId).length).toBe(requests);
  });

  it('fails an update whose artifact is not a loadable model', async () => {
    const { agent, deviceId } = await agentServingV1(h);
    const junk = new Uint8Array(randomBytes(3000));
    const manifest = testManifest(junk, { version: '2' });
    h.cloud.addArtifact(junk);
    await h.cloud.publishDesired(deviceId, {
      v: 1,
      generation: 2,
      rolloutId: null,
      model: {
        manifest,
        signature: signTestManifest(manifest, h.key),
        delivery: { chunkSize: 1024, chunks: 3 },
      },
      config: {},
      issuedAt: Date.now(),
    });
    await eventually(() => phaseOf(deviceId)?.state === 'failed');
    expect(phaseOf(deviceId)).toMatchObject({ reason: 'MODEL_LOAD_FAILED' });
    await expectServesV1(agent);
  });

  it('fails with CHECKSUM_MISMATCH when the served bytes do not hash to the manifest, retries with backoff, and heals once they do', async () => {
    const { agent, deviceId } = await agentServingV1(h);
    const v2 = brightnessModel('2');
    const impostor = brightnessModel('9'); // same size, other bytes
    expect(impostor.bytes.length).toBe(v2.bytes.length);
    h.cloud.artifacts.set(v2.manifest.sha256, impostor.bytes);
    await h.cloud.publishDesired(deviceId, signedDesired({ generation: 2, model: v2, key: h.key }));
    await eventually(() => phaseOf(deviceId)?.state === 'failed');
    expect(phaseOf(deviceId)).toMatchObject({ reason: 'CHECKSUM_MISMATCH' });
    // maxUpdateAttempts = 2 at retryDelayMs (200 ms), then 400 ms, then 800 ms (maxRetryDelayMs)…
    const failures = () => h.cloud.phases(deviceId).filter((p) => p === 'failed').length;
    await eventually(() => failures() >= 4, 8000, 'four attempts');
    const at = Date.now();
    await eventually(() => failures() >= 5, 8000, 'a fifth attempt');
    expect(Date.now() - at).toBeGreaterThanOrEqual(500); // backed off, not hammering
    await expectServesV1(agent); // serving the last good model all along

    // The cause goes away (the cloud serves the right bytes): the device heals by itself.
    h.cloud.artifacts.set(v2.manifest.sha256, v2.bytes);
    await eventually(() => agent.status().model?.version === '2', 10_000, 'v2 active');
    await eventually(() => h.cloud.lastReported(deviceId)?.phase.state === 'active');
  });
});

describe('delivery faults', () => {
  it('re-requests a corrupt chunk at once and completes', async () => {
    const { agent, deviceId } = await h.agent();
    const v1 = brightnessModel('1');
    h.cloud.addArtifact(v1.bytes);
    h.cloud.faults = { corrupt: (index, delivery) => index === 5 && delivery === 0 };
    await h.cloud.publishDesired(deviceId, signedDesired({ generation: 1, model: v1, key: h.key }));
    await eventually(() => agent.status().model?.version === '1', 10_000, 'v1 active');
    expect(h.cloud.chunksSent.get(5)).toBe(2);
    expect(
      requestsFor(deviceId).some(
        (r) => r.ranges.length === 1 && r.ranges[0]?.[0] === 5 && r.ranges[0]?.[1] === 5,
      ),
    ).toBe(true);
  });

  it('resumes a download after a broker restart mid-download, without fetching it all again', async () => {
    const { agent, deviceId } = await h.agent();
    const v1 = brightnessModel('1');
    h.cloud.addArtifact(v1.bytes);
    h.cloud.faults = { drop: (index) => index >= 6 };
    await h.cloud.publishDesired(deviceId, signedDesired({ generation: 1, model: v1, key: h.key }));
    await eventually(() => agent.status().download?.receivedChunks === 6, 5000, 'six chunks');
    await h.broker.restart(); // sessions and retained messages gone, as with a broker without persistence
    h.cloud.faults = {};
    await eventually(() => agent.status().model?.version === '1', 10_000, 'v1 active');
    for (let i = 0; i < 6; i++) expect(h.cloud.chunksSent.get(i)).toBe(1);
    await eventually(() => h.cloud.lastReported(deviceId)?.phase.state === 'active');
  });

  it('resumes a download from disk after the agent is stopped mid-download', async () => {
    const first = await h.agent();
    const v1 = brightnessModel('1');
    h.cloud.addArtifact(v1.bytes);
    h.cloud.faults = { drop: (index) => index >= 6 };
    await h.cloud.publishDesired(first.deviceId, signedDesired({ generation: 1, model: v1, key: h.key }));
    await eventually(() => first.agent.status().download?.receivedChunks === 6, 5000, 'six chunks');
    await first.agent.stop({ graceful: false });
    h.cloud.faults = {};
    const reportsBefore = h.cloud.reported.get(first.deviceId)?.length ?? 0;

    const second = await h.agent({ deviceId: first.deviceId, dataDir: first.dataDir });
    await eventually(() => second.agent.status().model?.version === '1', 10_000, 'v1 active after restart');
    for (let i = 0; i < 6; i++) expect(h.cloud.chunksSent.get(i)).toBe(1);
    const afterRestart = (h.cloud.reported.get(first.deviceId) ?? []).slice(reportsBefore);
    const firstDownloading = afterRestart.find((r) => r.phase.state === 'downloading');
    expect(firstDownloading?.phase).toMatchObject({
      receivedChunks: 6,
      totalChunks: Math.ceil(v1.bytes.length / 1024),
    });
  });
});

describe('telemetry store and forward', () => {
  it('keeps windows made while the broker is down, across an agent restart, and delivers them in order', async () => {
    const first = await h.agent();
    await eventually(() => first.agent.status().connected);
    await first.agent.flushTelemetry(); // seq 0, delivered while online
    await eventually(() => h.cloud.telemetry.get(first.deviceId)?.length === 1);

    await h.broker.down({ keepState: true });
    await eventually(() => !first.agent.status().connected);
    await first.agent.flushTelemetry(); // seq 1
    await first.agent.flushTelemetry(); // seq 2
    expect(first.agent.status().telemetry.entries).toBe(2);
    await first.agent.stop();

    const second = await h.agent({ deviceId: first.deviceId, dataDir: first.dataDir });
    await second.agent.flushTelemetry(); // seq 3
    expect(second.agent.status().telemetry.entries).toBe(3);
    await h.broker.up();
    // QoS 1 is at-least-once: the broker kept its session, so a window whose PUBACK from the cloud
    // was cut off by the outage is delivered again (the real ingest dedupes on device + seq).
    // What must hold is that every window arrives and first arrivals are in order.
    const distinctSeqs = () => [...new Set(h.cloud.telemetry.get(first.deviceId)?.map((w) => w.seq))];
    await eventually(() => distinctSeqs().length >= 4, 10_000, 'four windows');
    expect(distinctSeqs()).toEqual([0, 1, 2, 3]);
    await eventually(() => second.agent.status().telemetry.entries === 0);
  });
});

describe('agent killed mid-activation', () => {
  /**
   * Holds the activation of `sha256` at `at` until the agent stops, then fails it with the stop's
   * reason: nothing after that point runs, as if the process had been killed there. `release()`
   * lets it go on instead.
   */
  function holdAt(at: ActivationStep, sha256: string) {
    let reached!: () => void;
    let release!: () => void;
    const reachedP = new Promise<void>((resolve) => {
      reached = resolve;
    });
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const hooks: UpdateHooks = {
      activation: (step, context) => {
        if (step !== at || context.sha256 !== sha256) return Promise.resolve();
        reached();
        return new Promise<void>((resolve, reject) => {
          const { signal } = context;
          if (signal.aborted) reject(signal.reason);
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
          void released.then(resolve);
        });
      },
    };
    return { hooks, reached: reachedP, release };
  }

  async function slotsOnDisk(dataDir: string) {
    const models = join(dataDir, 'models');
    const state = JSON.parse(await readFile(join(models, 'slots.json'), 'utf8')) as {
      active: 'a' | 'b' | null;
      previous: 'a' | 'b' | null;
      confirmed: boolean;
      bootAttempts: number;
    };
    const versionIn = async (slot: string | null): Promise<string | null> => {
      if (!slot) return null;
      const text = await readFile(join(models, 'slots', slot, 'manifest.json'), 'utf8');
      return (JSON.parse(text) as { manifest: { version: string } }).manifest.version;
    };
    return {
      ...state,
      activeVersion: await versionIn(state.active),
      previousVersion: await versionIn(state.previous),
      entries: (await readdir(join(models, 'slots'))).sort(),
    };
  }

  /** An agent serving v1, with v2 published and its activation held (then killed) at `step`. */
  async function killedWhileActivatingV2(step: ActivationStep) {
    const v1 = brightnessModel('1');
    const v2 = brightnessModel('2');
    const hold = holdAt(step, v2.manifest.sha256);
    const first = await h.agent({}, { updateHooks: hold.hooks });
    const { deviceId, dataDir } = first;
    h.cloud.addArtifact(v1.bytes);
    h.cloud.addArtifact(v2.bytes);
    await h.cloud.publishDesired(deviceId, signedDesired({ generation: 1, model: v1, key: h.key }));
    await eventually(() => first.agent.status().model?.version === '1', 10_000, 'v1 active');
    await h.cloud.publishDesired(deviceId, signedDesired({ generation: 2, model: v2, key: h.key }));
    await hold.reached;
    // Mid-activation the old model still serves every request.
    await expectServesV1(first.agent);
    expect(first.agent.status().phase).toMatchObject({ state: 'activating', sha256: v2.manifest.sha256 });
    await first.agent.stop({ graceful: false });
    return {
      v1,
      v2,
      deviceId,
      dataDir,
      reportsBefore: h.cloud.reported.get(deviceId)?.length ?? 0,
      requestsBefore: requestsFor(deviceId).length,
    };
  }

  it.each(['loaded', 'warmed-up', 'staged'] as const)(
    'killed at %s: restarts serving the last good model at once, then activates the new one',
    async (step) => {
      const killed = await killedWhileActivatingV2(step);
      const { v2, deviceId, dataDir } = killed;
      const before = await slotsOnDisk(dataDir);
      expect(before).toMatchObject({ activeVersion: '1', previousVersion: null });
      expect(before.entries).toEqual(step === 'staged' ? ['a', 'b'] : ['a']);

      // The restarted agent's new activation is held too, so "at once" is not a race.
      const hold = holdAt('loaded', v2.manifest.sha256);
      const second = await h.agent({ deviceId, dataDir }, { updateHooks: hold.hooks });
      expect(second.agent.status().model?.version).toBe('1');
      await expectServesV1(second.agent);
      await hold.reached;
      expect(second.agent.status().model?.version).toBe('1');
      hold.release();

      await eventually(() => second.agent.status().model?.version === '2', 10_000, 'v2 active');
      const last = await eventually(
        () => phaseOf(deviceId)?.state === 'active' && h.cloud.lastReported(deviceId),
        5000,
        'active reported',
      );
      expect(last).toMatchObject({
        generation: 2,
        active: { version: '2', sha256: v2.manifest.sha256 },
        previous: { version: '1' },
        phase: { state: 'active', sha256: v2.manifest.sha256 },
      });
      // Every report since the restart is consistent: v1 until v2 is really serving.
      const since = (h.cloud.reported.get(deviceId) ?? []).slice(killed.reportsBefore);
      expect(since.map((r) => r.phase.state)).not.toContain('failed');
      expect(since.map((r) => r.phase.state)).not.toContain('rolled_back');
      for (const report of since) {
        expect(report.generation).toBe(2);
        expect(report.active?.version).toBe(report.phase.state === 'active' ? '2' : '1');
      }
      expect(second.agent.status()).toMatchObject({ model: { version: '2' }, previous: { version: '1' } });
      // The verified artifact (or the staged slot) was reused: nothing fetched again.
      expect(requestsFor(deviceId).length).toBe(killed.requestsBefore);
      // On disk: v2 active with v1 to roll back to, no half-built slot.
      expect(await slotsOnDisk(dataDir)).toMatchObject({
        activeVersion: '2',
        previousVersion: '1',
        confirmed: false,
        entries: ['a', 'b'],
      });
      const result = await infer(second.agent, await solidImage(255));
      expect(result.body).toMatchObject({ label: 'bright', model: { version: '2' } });
    },
  );

  it('killed after the new slot became active but before it served: restarts on it, counted as an unconfirmed boot', async () => {
    const { v2, deviceId, dataDir, requestsBefore } = await killedWhileActivatingV2('activated');
    expect(await slotsOnDisk(dataDir)).toMatchObject({
      activeVersion: '2',
      previousVersion: '1',
      confirmed: false,
      bootAttempts: 1,
    });

    const second = await h.agent({ deviceId, dataDir });
    // The activation was committed (verified, warmed up, golden-checked, then made durable).
    expect(second.agent.status()).toMatchObject({ model: { version: '2' }, previous: { version: '1' } });
    expect(await slotsOnDisk(dataDir)).toMatchObject({ bootAttempts: 2, confirmed: false });
    await eventually(
      () => phaseOf(deviceId)?.state === 'active' && h.cloud.lastReported(deviceId)?.active?.version === '2',
      5000,
      'active reported',
    );
    expect(h.cloud.lastReported(deviceId)).toMatchObject({
      generation: 2,
      previous: { version: '1' },
      phase: { state: 'active', sha256: v2.manifest.sha256 },
    });
    expect(requestsFor(deviceId).length).toBe(requestsBefore);
    // It proves itself (3 inferences in the test tuning) and is confirmed: no crash-loop rollback.
    for (let i = 0; i < 3; i++) expect((await infer(second.agent, await solidImage(255))).status).toBe(200);
    await eventually(async () => (await slotsOnDisk(dataDir)).confirmed, 5000, 'v2 confirmed');
  });
});
