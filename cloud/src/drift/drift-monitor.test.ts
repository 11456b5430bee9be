// The drift loop on a real database: MNIST digits as a camera would see them, through a fixed toy
// classifier, sketched per window as agents do; a clean device class stays quiet, a darkened and a
// blurred one raise alerts that name the input feature that moved.
import {
  buildReferenceProfile,
  FeatureExtractor,
  type ModelObservation,
  type PreprocessingSpec,
  preprocessingSpecSchema,
  type ReferenceProfile,
  WindowSketch,
} from '@edgeloop/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiFixture } from '../api/testing.ts';
import { CORRUPTIONS, loadMnistDataset } from '../datasets/index.ts';
import { sessionAdvisoryLock } from '../db/advisory-lock.ts';
import type { Database } from '../db/index.ts';
import { devices, driftReports, models, modelVersions, telemetryWindows } from '../db/schema.ts';
import { testDatabases } from '../db/testing.ts';
import { telemetryWindow } from '../ingest/testing.ts';
import { windowRow } from '../ingest/window-row.ts';
import { listBaselines, removeBaseline, requestBaseline } from './baselines.ts';
import { DriftMonitor, type StoredDriftReport } from './drift-monitor.ts';

const mnist = loadMnistDataset();
const PIXELS = 28 * 28;
const PREPROCESSING: PreprocessingSpec = preprocessingSpecSchema.parse({
  layout: 'NCHW',
  channels: 1,
  height: 28,
  width: 28,
});

/** A fixed random linear classifier over 7×7 average-pooled pixels: deterministic, cheap, input-sensitive. */
const WEIGHTS = (() => {
  let state = 12345;
  const next = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 2 ** 32 - 0.5;
  };
  return Float64Array.from({ length: 10 * 49 }, () => next() * 8);
})();

function observe(image: Float32Array): ModelObservation {
  const pooled = new Float64Array(49);
  for (let p = 0; p < PIXELS; p++) {
    const cell = Math.floor(Math.floor(p / 28) / 4) * 7 + Math.floor((p % 28) / 4);
    pooled[cell] = (pooled[cell] as number) + (image[p] as number) / 16;
  }
  const logits = Array.from({ length: 10 }, (_, c) =>
    pooled.reduce((sum, x, i) => sum + x * (WEIGHTS[c * 49 + i] as number), 0),
  );
  const top = Math.max(...logits);
  const exp = logits.map((l) => Math.exp(l - top));
  const total = exp.reduce((a, b) => a + b, 0);
  return { input: image, probabilities: Float32Array.from(exp, (e) => e / total) };
}

const darken = (image: Float32Array) => image.map((v) => v * 0.4);
const defocus = (image: Float32Array) =>
  CORRUPTIONS.blur(image, { channels: 1, height: 28, width: 28 }, 1, () => 0.5);

function digit(split: 'validation' | 'test', i: number): Float32Array {
  return mnist[split].images.slice(i * PIXELS, (i + 1) * PIXELS);
}

describe.each(testDatabases())('DriftMonitor on $name', ({ open }) => {
  let database: Database;
  let profile: ReferenceProfile;
  let extractor: FeatureExtractor;
  let nextImage = 0;
  const seqs = new Map<string, number>();
  const scores = new Map<string, number>();
  let monitor: DriftMonitor;

  const cameras = [
    { id: 'cam-clean', deviceClass: 'clean-cam', corrupt: (x: Float32Array) => x },
    { id: 'cam-dark', deviceClass: 'dark-cam', corrupt: darken },
    { id: 'cam-blur', deviceClass: 'blur-cam', corrupt: defocus },
  ];

  /** One window of `n` inferences from a camera, stored as ingestion stores it. */
  async function sendWindow(camera: (typeof cameras)[number], n: number): Promise<void> {
    const sketch = new WindowSketch({ spec: profile.spec });
    for (let i = 0; i < n; i++) {
      const image = camera.corrupt(digit('test', nextImage++ % mnist.test.count));
      sketch.add(extractor.observe(observe(image)));
    }
    const seq = seqs.get(camera.id) ?? 0;
    seqs.set(camera.id, seq + 1);
    const window = telemetryWindow(camera.id, seq, {
      model: { name: 'digits', version: '1', variant: 'int8', sha256: 'ab'.repeat(32) },
      inferences: n,
      classCounts: [...sketch.classCounts],
      sketches: sketch.toWire(),
    });
    await database.db.insert(telemetryWindows).values(windowRow(camera.id, window, new Date()));
  }

  beforeAll(async () => {
    database = await open();
    const observations = Array.from({ length: 1000 }, (_, i) => observe(digit('validation', i)));
    profile = buildReferenceProfile({
      preprocessing: PREPROCESSING,
      classes: 10,
      projection: null,
      observations,
    });
    extractor = new FeatureExtractor({ preprocessing: PREPROCESSING, classes: 10 });
    await database.db.insert(models).values({ name: 'digits', classes: mnist.classes });
    await database.db
      .insert(modelVersions)
      .values({ modelName: 'digits', version: 1, lineage: {}, referenceProfile: profile });
    await database.db.insert(devices).values(cameras.map((c) => ({ id: c.id, deviceClass: c.deviceClass })));
    monitor = new DriftMonitor({
      db: database.db,
      intervalMs: 0,
      settleMs: 0,
      onScore: (model, version, feature, psi) => scores.set(`${model}@${version}/${feature}`, psi),
    });
  });
  afterAll(async () => {
    await monitor.stop();
    await database.close();
  });

  it('stays quiet on clean cameras and alerts on darkened and blurred ones, naming the feature', async () => {
    const reports: StoredDriftReport[] = [];
    // Three rounds of 2 windows × 150 inferences per camera: each round is one evaluation per class.
    for (let round = 0; round < 3; round++) {
      for (const camera of cameras) {
        await sendWindow(camera, 150);
        await sendWindow(camera, 150);
      }
      reports.push(...(await monitor.tick()));
    }
    const byClass = (scope: string) => reports.filter((r) => r.scope === scope);
    expect(byClass('clean-cam')).toHaveLength(3);
    for (const r of reports) {
      expect(r).toMatchObject({ model: 'digits', version: 1, scopeKind: 'device_class' });
      expect(r.report).toMatchObject({ samples: 300, windows: 2, profile: profile.fingerprint });
    }
    for (const r of byClass('clean-cam')) expect(r.report.state).toBe('ok');

    const dark = byClass('dark-cam').at(-1)!.report;
    expect(dark.state).toBe('alert');
    expect(dark.drifted.slice(0, 3)).toContain('brightness');
    const blurred = byClass('blur-cam').at(-1)!.report;
    expect(blurred.state).toBe('alert');
    expect(blurred.drifted.slice(0, 3)).toContain('sharpness');
    // Hysteresis: the first evaluation alone does not raise the alert.
    expect(byClass('dark-cam')[0]!.report.state).not.toBe('alert');
    console.log('drift reports', {
      clean: byClass('clean-cam').map((r) => r.report.features.find((f) => f.feature === 'brightness')?.psi),
      dark: dark.features.slice(0, 3).map((f) => [f.feature, f.psi ?? f.js]),
      blurred: blurred.features.slice(0, 3).map((f) => [f.feature, f.psi ?? f.js]),
    });

    // Stored, counted once, on the gauge: the worst slice of the version.
    const rows = await database.db.select().from(driftReports);
    expect(rows).toHaveLength(9);
    expect(await monitor.tick()).toEqual([]); // nothing new: no window is judged twice
    expect(scores.get('digits@1/brightness')).toBeGreaterThan(0.2);

    // The API serves them to viewers, newest first.
    const api = await createApiFixture(database.db);
    const res = await api.request('GET', '/api/v1/drift?model=digits&version=1&limit=3', {
      token: api.tokens.viewer,
    });
    expect(res.status).toBe(200);
    const body = res.json as { reports: { scope: string; report: { state: string } }[] };
    expect(body.reports).toHaveLength(3);
    expect(new Set(body.reports.map((r) => r.scope))).toEqual(new Set(['clean-cam', 'dark-cam', 'blur-cam']));
    expect(body.reports.find((r) => r.scope === 'dark-cam')?.report.state).toBe('alert');
    const other = await api.request('GET', '/api/v1/drift?model=digits&version=2', {
      token: api.tokens.viewer,
    });
    expect((other.json as { reports: unknown[] }).reports).toEqual([]);
    expect((await api.request('GET', '/api/v1/drift?model=digits', { token: null })).status).toBe(401);
  });

  it('waits for enough samples before it judges a slice', async () => {
    await sendWindow(cameras[1]!, 50);
    expect(await monitor.tick()).toEqual([]);
    await sendWindow(cameras[1]!, 160);
    const [report] = await monitor.tick();
    expect(report).toMatchObject({ scope: 'dark-cam', report: { samples: 210, windows: 2 } });
  });

  it('judges a slice against its collected baseline once one is requested, and alarms again when it changes back', async () => {
    const [dark, clean] = [cameras[1]!, cameras[0]!];
    const key = { model: 'digits', version: 1, scopeKind: 'device_class' as const, scope: 'dark-cam' };
    const requested = await requestBaseline(database.db, {
      ...key,
      targetSamples: 400,
      reason: 'test: the dark room is the new normal',
      requestedBy: 'test',
    });
    expect(requested).toMatchObject({ status: 'collecting', collectedSamples: 0, profile: null });

    // Collecting: the slice is not judged, its progress is recorded.
    await sendWindow(dark, 150);
    await sendWindow(clean, 150);
    await sendWindow(clean, 150);
    const during = await monitor.tick();
    expect(during.map((r) => r.scope)).toEqual(['clean-cam']);
    expect((await listBaselines(database.db, { model: 'digits' }))[0]).toMatchObject({
      status: 'collecting',
      collectedSamples: 150,
    });
    await sendWindow(dark, 150);
    await sendWindow(dark, 150);
    expect(await monitor.tick()).toEqual([]);
    const [active] = await listBaselines(database.db, { model: 'digits' });
    expect(active).toMatchObject({ status: 'active', collectedSamples: 450 });
    expect(active?.profile?.fingerprint).toBe(profile.fingerprint);
    expect(active?.profile?.sampleSize).toBe(450);

    // Dark is now normal for that slice: three evaluations, none above ok…
    const states: string[] = [];
    for (let round = 0; round < 3; round++) {
      await sendWindow(dark, 150);
      await sendWindow(dark, 150);
      states.push(...(await monitor.tick()).map((r) => r.report.state));
    }
    expect(states).toEqual(['ok', 'ok', 'ok']);
    // …and when the room is lit again, the slice has changed against its baseline.
    const back: string[] = [];
    for (let round = 0; round < 3; round++) {
      const darkCamera = { ...dark, corrupt: (x: Float32Array) => x };
      await sendWindow(darkCamera, 150);
      await sendWindow(darkCamera, 150);
      back.push(...(await monitor.tick()).map((r) => r.report.state));
    }
    expect(back.at(-1)).toBe('alert');

    // Operators see baselines (viewer), request and remove them (operator) over the API.
    const api = await createApiFixture(database.db);
    const listed = await api.request('GET', '/api/v1/drift/baselines?model=digits', {
      token: api.tokens.viewer,
    });
    expect(listed.json).toMatchObject({
      baselines: [
        { scope: 'dark-cam', status: 'active', collectedSamples: 450, fingerprint: profile.fingerprint },
      ],
    });
    const asked = { model: 'digits', version: 1, scope: 'blur-cam', samples: 300 };
    const forbidden = await api.request('POST', '/api/v1/drift/baselines', {
      token: api.tokens.viewer,
      body: asked,
    });
    expect(forbidden.status).toBe(403);
    const created = await api.request('POST', '/api/v1/drift/baselines', {
      token: api.tokens.operator,
      body: asked,
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      scopeKind: 'device_class',
      status: 'collecting',
      targetSamples: 300,
    });
    const unknown = await api.request('POST', '/api/v1/drift/baselines', {
      token: api.tokens.operator,
      body: { ...asked, version: 9 },
    });
    expect(unknown.status).toBe(404);
    const removed = await api.request(
      'DELETE',
      '/api/v1/drift/baselines?model=digits&version=1&scope=blur-cam',
      {
        token: api.tokens.operator,
      },
    );
    expect(removed.status).toBe(200);

    // Removing the baseline judges the slice against the version's profile again.
    await removeBaseline(database.db, key);
    expect(await listBaselines(database.db)).toEqual([]);
    await expect(removeBaseline(database.db, key)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    for (let round = 0; round < 2; round++) {
      await sendWindow(dark, 150);
      await sendWindow(dark, 150);
      await monitor.tick();
    }
    const [latest] = await monitor.tick().then(async () => {
      await sendWindow(dark, 150);
      await sendWindow(dark, 150);
      return monitor.tick();
    });
    expect(latest?.report.state).toBe('alert');
  });
});

describe.each(testDatabases())('DriftMonitor across cloud processes on $name', ({ open }) => {
  it('evaluates in one process at a time (advisory lock), and another takes over when the first stops', async () => {
    const database = await open();
    try {
      const profile = buildReferenceProfile({
        preprocessing: PREPROCESSING,
        classes: 10,
        projection: null,
        observations: Array.from({ length: 300 }, (_, i) => observe(digit('validation', i))),
      });
      await database.db.insert(models).values({ name: 'digits', classes: mnist.classes });
      await database.db
        .insert(modelVersions)
        .values({ modelName: 'digits', version: 1, lineage: {}, referenceProfile: profile });
      await database.db.insert(devices).values([{ id: 'cam-x', deviceClass: 'clean-cam' }]);
      const extractor = new FeatureExtractor({ preprocessing: PREPROCESSING, classes: 10 });
      let seq = 0;
      const send = async () => {
        const sketch = new WindowSketch({ spec: profile.spec });
        for (let i = 0; i < 250; i++)
          sketch.add(extractor.observe(observe(digit('test', (seq * 250 + i) % 2000))));
        const window = telemetryWindow('cam-x', seq++, {
          model: { name: 'digits', version: '1', variant: 'int8', sha256: 'ab'.repeat(32) },
          inferences: 250,
          classCounts: [...sketch.classCounts],
          sketches: sketch.toWire(),
        });
        await database.db.insert(telemetryWindows).values(windowRow('cam-x', window, new Date()));
      };
      const monitor = () =>
        new DriftMonitor({
          db: database.db,
          intervalMs: 0,
          settleMs: 0,
          lock: sessionAdvisoryLock(database, 'driftMonitor'),
        });
      const first = monitor();
      const second = monitor();
      await send();
      expect(await first.tick()).toHaveLength(1);
      await send();
      expect(await second.tick()).toEqual([]); // the first one leads
      expect(await first.tick()).toHaveLength(1);
      await first.stop(); // releases the lock
      await send();
      // The second takes over from now: the window before the hand-over was the old leader's to judge.
      expect(await second.tick()).toEqual([]);
      await send();
      expect(await second.tick()).toHaveLength(1);
      expect(await database.db.select().from(driftReports)).toHaveLength(3);
      await second.stop();
    } finally {
      await database.close();
    }
  });
});
