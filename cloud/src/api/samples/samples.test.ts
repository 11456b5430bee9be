// /api/v1/samples against a real database and the real app: listing, detail with tensor, the PNG
// preview, operator labelling (confirm, correct, out of range, roles) and stats.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq } from 'drizzle-orm';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../db/index.ts';
import { events, fleetSamples } from '../../db/schema.ts';
import { testDatabases } from '../../db/testing.ts';
import { FsArtifactStore } from '../../registry/artifact-store.ts';
import { ModelRegistry } from '../../registry/model-registry.ts';
import { SigningKeys } from '../../registry/signing-keys.ts';
import { CLASSES, registration, tinyManifestFields } from '../../registry/test-fixtures.ts';
import { insertSamples, sampleRow } from '../../samples/index.ts';
import { encodeTensor, testSample } from '../../samples/testing.ts';
import { createApiFixture } from '../testing.ts';

// The tiny test model's preprocessing: 2×2 grey, x = (p/255 − 0.1307) / 0.3081.
const { mean, std } = tinyManifestFields.preprocessing as { mean: number[]; std: number[] };
const PIXELS = [0, 64, 128, 255];
const normalised = PIXELS.map((p) => (p / 255 - (mean[0] as number)) / (std[0] as number));

describe.each(testDatabases())('samples API on $name', ({ open }) => {
  let database: Database;
  let dir: string;
  let api: Awaited<ReturnType<typeof createApiFixture>>;
  const ids: Record<string, number> = {};

  beforeAll(async () => {
    database = await open();
    dir = await mkdtemp(join(tmpdir(), 'edgeloop-samples-api-'));
    const registry = new ModelRegistry({
      db: database.db,
      store: new FsArtifactStore(join(dir, 'artifacts')),
      signer: SigningKeys.generate(),
    });
    await registry.createModel({ name: 'digits', classes: CLASSES });
    await registry.registerVersion(registration('digits', 1));
    api = await createApiFixture(database.db);
    const at = new Date('2030-01-01T00:00:00Z');
    await insertSamples(database.db, [
      sampleRow(
        'cam-1',
        testSample('a', { tensor: { shape: [1, 1, 2, 2], data: encodeTensor(normalised) } }),
        at,
      ),
      sampleRow('cam-1', testSample('b', { label: 0, prediction: { classIndex: 2, confidence: 0.9 } }), at),
      sampleRow(
        'cam-2',
        testSample('c', { tensor: { shape: [5], data: encodeTensor([1, 2, 3, 4, 5]) } }),
        at,
      ),
      // A version the registry does not know, and a prediction past the model's 3 classes.
      sampleRow('cam-2', testSample('d', { model: { ...testSample('x').model, version: '9' } }), at),
      sampleRow('cam-2', testSample('e', { prediction: { classIndex: 7, confidence: 0.2 } }), at),
      sampleRow('cam-1', testSample('f', { label: 1 }), at),
    ]);
    for (const row of await database.db.select().from(fleetSamples)) ids[row.sampleId] = row.id;
  }, 60_000);

  afterAll(async () => {
    await database?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists samples newest first, filtered and paged, without tensors (viewer)', async () => {
    const all = await api.request('GET', '/api/v1/samples', { token: api.tokens.viewer });
    expect(all.status).toBe(200);
    expect(all.json.items.map((s: { sampleId: string }) => s.sampleId)).toEqual([
      'f',
      'e',
      'd',
      'c',
      'b',
      'a',
    ]);
    expect(all.json.items[5]).toEqual({
      id: ids['a'],
      device: 'cam-1',
      sampleId: 'a',
      model: 'digits',
      version: 1,
      variant: 'int8',
      capturedAt: new Date(1_900_000_000_000).toISOString(),
      receivedAt: '2030-01-01T00:00:00.000Z',
      reason: 'low-confidence',
      prediction: 1,
      confidence: 0.42,
      label: null,
      labelSource: null,
    });
    const labelled = await api.request('GET', '/api/v1/samples?labelled=true', { token: api.tokens.viewer });
    expect(labelled.json.items.map((s: { sampleId: string }) => s.sampleId)).toEqual(['f', 'b']);
    const doubtful = await api.request('GET', '/api/v1/samples?labelled=false&reason=low-confidence');
    expect(doubtful.json.items.map((s: { sampleId: string }) => s.sampleId)).toEqual(['e', 'd', 'c', 'a']);
    expect((await api.request('GET', '/api/v1/samples?reason=random')).json.items).toEqual([]);
    expect((await api.request('GET', '/api/v1/samples?reason=sure')).status).toBe(400);
    const page1 = await api.request('GET', '/api/v1/samples?device=cam-2&version=1&limit=1');
    expect(page1.json.items.map((s: { sampleId: string }) => s.sampleId)).toEqual(['e']);
    const page2 = await api.request(
      'GET',
      `/api/v1/samples?device=cam-2&version=1&limit=1&before=${page1.json.nextBefore}`,
    );
    expect(page2.json.items.map((s: { sampleId: string }) => s.sampleId)).toEqual(['c']);
    const bad = await api.request('GET', '/api/v1/samples?labelled=yes');
    expect(bad.status).toBe(400);
    expect(bad.json.error.code).toBe('VALIDATION_FAILED');
  });

  it('shows one sample with its tensor and the model version classes', async () => {
    const res = await api.request('GET', `/api/v1/samples/${ids['c']}`, { token: api.tokens.viewer });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ sampleId: 'c', windowSeq: 7, classes: CLASSES, labelledBy: null });
    expect(res.json.tensor.shape).toEqual([5]);
    const bytes = Buffer.from(res.json.tensor.data, 'base64');
    expect([0, 1, 2, 3, 4].map((i) => bytes.readFloatLE(i * 4))).toEqual([1, 2, 3, 4, 5]);
    expect((await api.request('GET', '/api/v1/samples/999999')).status).toBe(404);
  });

  it('previews an image sample as PNG, undoing the model normalisation', async () => {
    const res = await api.app.request(`/api/v1/samples/${ids['a']}/image.png?scale=4`, {
      headers: { authorization: `Bearer ${api.tokens.viewer}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    const png = Buffer.from(await res.arrayBuffer());
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.format]).toEqual([8, 8, 'raw']);
    // Top-left corner of each enlarged pixel: the original 8-bit values.
    const at = (x: number, y: number) => data[(y * info.width + x) * info.channels] as number;
    expect([at(0, 0), at(4, 0), at(0, 4), at(4, 4)]).toEqual(PIXELS);
    const notImage = await api.request('GET', `/api/v1/samples/${ids['c']}/image.png`);
    expect(notImage.status).toBe(400);
    expect(notImage.json.error.message).toMatch(/shape \[5\] is not an image/);
  });

  it('lets an operator confirm a prediction and correct a label, recording who and an event', async () => {
    const confirm = await api.request('POST', `/api/v1/samples/${ids['a']}/label`, {
      token: api.tokens.operator,
      body: { confirm: true },
    });
    expect(confirm.status).toBe(200);
    expect(confirm.json).toMatchObject({ label: 1, labelSource: 'operator', labelledBy: 'test-operator' });
    expect(Date.parse(confirm.json.labelledAt)).not.toBeNaN();

    const correct = await api.request('POST', `/api/v1/samples/${ids['b']}/label`, {
      token: api.tokens.operator,
      body: { label: 2 },
    });
    expect(correct.status).toBe(200);
    expect(correct.json).toMatchObject({ label: 2, labelSource: 'operator', prediction: 2 });

    const [row] = await database.db
      .select()
      .from(fleetSamples)
      .where(eq(fleetSamples.id, ids['b'] as number));
    expect([row?.label, row?.labelSource, row?.labelledBy]).toEqual([2, 'operator', 'test-operator']);
    const [event] = await database.db
      .select()
      .from(events)
      .where(and(eq(events.kind, 'sample.labelled'), eq(events.subject, `sample:${ids['b']}`)));
    expect(event?.actor).toMatch(/^token:/);
    expect(event?.data).toMatchObject({
      label: 2,
      className: 'fox',
      confirmed: false,
      previous: { label: 0, source: 'device' },
      labelledBy: 'test-operator',
    });
  });

  it('refuses labels outside the model version, bad bodies and viewers', async () => {
    const before = await database.db.select().from(fleetSamples);
    const post = (id: number | undefined, body: unknown, token = api.tokens.operator) =>
      api.request('POST', `/api/v1/samples/${id}/label`, { token, body });

    const outOfRange = await post(ids['c'], { label: 3 });
    expect(outOfRange.status).toBe(400);
    expect(outOfRange.json.error.message).toMatch(
      /label 3 is out of range: digits version 1 has 3 classes \(0-2: cat, dog, fox\)/,
    );
    const badPrediction = await post(ids['e'], { confirm: true });
    expect(badPrediction.status).toBe(400);
    expect(badPrediction.json.error.message).toMatch(/predicted class 7 is out of range/);
    const unknownVersion = await post(ids['d'], { label: 0 });
    expect(unknownVersion.status).toBe(400);
    expect(unknownVersion.json.error.message).toMatch(/digits version 9, which is not in the registry/);
    for (const body of [
      { label: 1, confirm: true },
      {},
      { label: -1 },
      { confirm: false },
      { label: 1, note: 'x' },
    ]) {
      const res = await post(ids['c'], body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.code).toBe('VALIDATION_FAILED');
    }
    const viewer = await post(ids['c'], { label: 0 }, api.tokens.viewer);
    expect(viewer.status).toBe(403);
    expect(viewer.json.error.code).toBe('FORBIDDEN');
    expect((await post(999999, { label: 0 })).status).toBe(404);
    expect(await database.db.select().from(fleetSamples)).toEqual(before);
    expect(await api.rejections('VALIDATION_FAILED')).toBeGreaterThanOrEqual(8);
  });

  it('counts labelled and unlabelled samples per version and label source', async () => {
    const res = await api.request('GET', '/api/v1/samples/stats?model=digits', { token: api.tokens.viewer });
    expect(res.status).toBe(200);
    const labelledNow = (await database.db.select().from(fleetSamples)).filter(
      (r) => r.modelVersion === 1 && r.label !== null,
    );
    const bySource = (s: string) => labelledNow.filter((r) => r.labelSource === s).length;
    expect(bySource('device')).toBeGreaterThan(0);
    expect(res.json.versions).toEqual([
      {
        model: 'digits',
        version: 1,
        total: 5,
        labelled: labelledNow.length,
        unlabelled: 5 - labelledNow.length,
        labelledBy: { device: bySource('device'), operator: bySource('operator') },
      },
      {
        model: 'digits',
        version: 9,
        total: 1,
        labelled: 0,
        unlabelled: 1,
        labelledBy: { device: 0, operator: 0 },
      },
    ]);
    const none = await api.request('GET', '/api/v1/samples/stats?model=nothing');
    expect(none.json.versions).toEqual([]);
  });
});
