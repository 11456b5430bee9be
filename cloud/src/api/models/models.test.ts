import { createHash } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { base64Decode, base64Encode, modelResolutionSchema, publicKeySetSchema } from '@edgeloop/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../db/index.ts';
import { testDatabases } from '../../db/testing.ts';
import { GraphBuilder } from '../../onnx/index.ts';
import { snapshotRegistry, TINY_TRAINING, tempDir, writeDigitFolder } from '../../pipeline/testing.ts';
import { verifyManifest } from '../../registry/index.ts';
import { createApiFixture } from '../testing.ts';
import { modelApiDeps, readEvents, TINY_CLASS } from './testing.ts';

describe.each(testDatabases())('models API on $name', ({ open }) => {
  let database: Database;
  let dir: string;
  let folder: string;
  let fx: Awaited<ReturnType<typeof createApiFixture>>;
  let env: Awaited<ReturnType<typeof modelApiDeps>>;
  let trainJobId: string;

  const unchanged = async (run: () => Promise<void>) => {
    const before = await snapshotRegistry(database.db, env.store);
    await run();
    expect(await snapshotRegistry(database.db, env.store)).toEqual(before);
  };

  beforeAll(async () => {
    database = await open();
    dir = await tempDir('edgeloop-models-api-');
    folder = await writeDigitFolder(join(dir, 'digits'), { classes: ['0', '1', '7'], perClass: 40 });
    env = await modelApiDeps(database.db, dir);
    fx = await createApiFixture(database.db, { models: env.models });
  });
  afterAll(async () => {
    await env.runner.close();
    await database.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the signing keys without a token, and to a client that sends one anyway', async () => {
    for (const token of [null, 'app_not_a_token', fx.tokens.viewer]) {
      const res = await fx.request('GET', '/api/v1/keys', { token });
      expect(res.status).toBe(200);
      expect(publicKeySetSchema.parse(res.json).keys).toEqual([env.keys.publicKey]);
    }
  });

  it('trains through a job (operator) and streams its progress to the end', async () => {
    const body = {
      dataset: { kind: 'image-folder', path: folder },
      hyperparameters: { ...TINY_TRAINING, epochs: 2 },
    };
    const denied = await fx.request('POST', '/api/v1/models/digits/train', { token: fx.tokens.viewer, body });
    expect(denied.status).toBe(403);

    const res = await fx.request('POST', '/api/v1/models/digits/train', { token: fx.tokens.operator, body });
    expect(res.status).toBe(202);
    expect(res.json.job).toMatchObject({
      kind: 'train',
      model: 'digits',
      status: expect.stringMatching(/queued|running/),
    });
    trainJobId = res.json.job.id;
    expect(res.json.links.events).toBe(`/api/v1/jobs/${trainJobId}/events`);

    const stream = await fx.app.request(res.json.links.events, {
      headers: { authorization: `Bearer ${fx.tokens.viewer}` },
    });
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = await readEvents(stream);
    const jobs = events.map((e) => JSON.parse(e.data));
    expect(events.at(-1)?.event).toBe('end');
    expect(events.slice(0, -1).every((e) => e.event === 'progress')).toBe(true);
    expect(jobs.at(-1)).toMatchObject({
      status: 'succeeded',
      progress: 1,
      result: { version: 1, aliases: ['champion'] },
    });
    const progress = jobs.map((j) => j.progress);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(jobs.some((j) => j.phase === 'training' && /epoch 2\/2/.test(j.detail))).toBe(true);

    const shown = await fx.request('GET', `/api/v1/jobs/${trainJobId}`, { token: fx.tokens.viewer });
    expect(shown.json).toMatchObject({
      id: trainJobId,
      status: 'succeeded',
      actor: expect.stringMatching(/^token:/),
    });
    const after = await fx.app.request(`/api/v1/jobs/${trainJobId}/events`, {
      headers: { authorization: `Bearer ${fx.tokens.viewer}` },
    });
    expect((await readEvents(after)).map((e) => e.event)).toEqual(['end']);
  });

  it('lists and shows models and versions with signed manifests', async () => {
    const list = await fx.request('GET', '/api/v1/models', { token: fx.tokens.viewer });
    expect(list.json.items).toEqual([
      expect.objectContaining({
        name: 'digits',
        classes: ['0', '1', '7'],
        latestVersion: 1,
        aliases: { champion: 1 },
      }),
    ]);
    const model = await fx.request('GET', '/api/v1/models/digits', { token: fx.tokens.viewer });
    expect(model.json.versions).toEqual([
      expect.objectContaining({ version: 1, variants: ['fp32', 'int8'] }),
    ]);

    const version = await fx.request('GET', '/api/v1/models/digits/versions/1', { token: fx.tokens.viewer });
    expect(version.status).toBe(200);
    expect(version.json.lineage).toMatchObject({
      trainer: 'builtin',
      dataset: { source: { kind: 'image-folder', path: folder } },
    });
    expect(version.json.metrics.evaluation.int8).toMatchObject({
      accuracy: expect.any(Number),
      perClass: expect.any(Array),
      confusion: expect.any(Array),
      latency: { b1: { p50: expect.any(Number), p95: expect.any(Number) } },
      bytes: expect.any(Number),
    });
    const publicKey = base64Decode(env.keys.publicKey.publicKey);
    for (const v of version.json.variants) {
      expect(verifyManifest(v.manifest, v.signature, publicKey)).toBe(true);
      expect(v.artifactUrl).toBe(`/api/v1/artifacts/${v.sha256}`);
    }
    expect((await fx.request('GET', '/api/v1/models/nope', { token: fx.tokens.viewer })).status).toBe(404);
    expect(
      (await fx.request('GET', '/api/v1/models/digits/versions/9', { token: fx.tokens.viewer })).status,
    ).toBe(404);
  });

  it('resolves an alias to the variant the device class prefers, within its size limit', async () => {
    const resolve = (query: string) =>
      fx.request('GET', `/api/v1/models/digits/resolve?${query}`, { token: fx.tokens.viewer });
    const browser = await resolve('alias=champion&deviceClass=browser');
    expect(browser.status).toBe(200);
    const parsed = modelResolutionSchema.parse(browser.json);
    expect(parsed).toMatchObject({
      alias: 'champion',
      manifest: { name: 'digits', version: '1', variant: 'int8' },
    });
    expect(env.profiles.get('browser')?.preferredVariant).toBe('int8');

    expect((await resolve('deviceClass=browser&variant=fp32')).json.manifest.variant).toBe('fp32');
    expect((await resolve('')).json.manifest.variant).toBe('fp32'); // no class: the reference variant

    const tooSmall = await resolve(`deviceClass=${TINY_CLASS.id}`);
    expect(tooSmall.status).toBe(413);
    expect(tooSmall.json.error).toMatchObject({
      code: 'MODEL_TOO_LARGE',
      message: expect.stringMatching(/at most 1024/),
    });
    const unknownClass = await resolve('deviceClass=toaster');
    expect(unknownClass.status).toBe(400);
    expect(unknownClass.json.error.message).toMatch(/unknown device class toaster \(known: .*browser/);
    expect((await resolve('alias=nightly')).status).toBe(404);
    expect((await fx.request('GET', '/api/v1/models/digits/resolve', { token: null })).status).toBe(401);
  });

  it('serves artifact bytes, immutable and addressed by their sha256', async () => {
    const { json } = await fx.request('GET', '/api/v1/models/digits/resolve?deviceClass=browser', {
      token: fx.tokens.viewer,
    });
    const headers = { authorization: `Bearer ${fx.tokens.viewer}` };
    const res = await fx.app.request(json.artifactUrl, { headers });
    expect(res.status).toBe(200);
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(json.manifest.sha256);
    expect(bytes.length).toBe(json.manifest.size);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.headers.get('etag')).toBe(`"${json.manifest.sha256}"`);
    expect(res.headers.get('cache-control')).toMatch(/immutable/);

    const again = await fx.app.request(json.artifactUrl, {
      headers: { ...headers, 'if-none-match': `"${json.manifest.sha256}"` },
    });
    expect(again.status).toBe(304);
    expect((await fx.app.request(`/api/v1/artifacts/${'0'.repeat(64)}`, { headers })).status).toBe(404);
    expect((await fx.app.request('/api/v1/artifacts/not-a-hash', { headers })).status).toBe(400);
  });

  it('moves an alias (operator)', async () => {
    const path = '/api/v1/models/digits/aliases/stable';
    expect((await fx.request('PUT', path, { token: fx.tokens.viewer, body: { version: 1 } })).status).toBe(
      403,
    );
    const moved = await fx.request('PUT', path, { token: fx.tokens.operator, body: { version: 1 } });
    expect(moved.status).toBe(200);
    expect(moved.json).toMatchObject({ model: 'digits', alias: 'stable', version: 1, previousVersion: null });
    expect((await fx.request('PUT', path, { token: fx.tokens.operator, body: { version: 7 } })).status).toBe(
      404,
    );
    expect(
      (await fx.request('PUT', '/api/v1/models/digits/aliases/Bad!', { body: { version: 1 } })).status,
    ).toBe(400);
  });

  describe('import', () => {
    const importBody = (onnx: Uint8Array, extra: Record<string, unknown> = {}) => ({
      name: 'uploaded',
      onnx: base64Encode(onnx),
      classes: ['0', '1', '7'],
      preprocessing: { layout: 'NCHW', channels: 1, height: 28, width: 28 },
      calibration: { kind: 'image-folder', path: folder },
      ...extra,
    });
    let trained: Uint8Array;

    beforeAll(async () => {
      const version = await env.registry.getVersion('digits', 1);
      trained = await env.store.get(version.variants.find((v) => v.variant === 'fp32')!.sha256);
    });

    it('imports an ONNX file as a job (larger than the general body limit)', async () => {
      const body = importBody(trained);
      expect(JSON.stringify(body).length).toBeGreaterThan(fx.deps.bodyLimit);
      const res = await fx.request('POST', '/api/v1/models/import', { token: fx.tokens.operator, body });
      expect(res.status).toBe(202);
      const done = await env.runner.wait(res.json.job.id);
      expect(done).toMatchObject({ status: 'succeeded', result: { version: 1 } });
      const version = await fx.request('GET', '/api/v1/models/uploaded/versions/1', {
        token: fx.tokens.viewer,
      });
      expect(version.json.variants.map((v: { variant: string }) => v.variant)).toEqual(['fp32', 'int8']);
    });

    it('refuses a file that is not ONNX, truncated, or without an image input, at once and with no change', async () => {
      const mlp = new GraphBuilder({ opset: 13 });
      const x = mlp.input('features', ['N', 784]);
      mlp.output(
        mlp.node('MatMul', [x, mlp.initializer('w', [784, 3], new Float32Array(2352))], {}, 'logits'),
        ['N', 3],
      );
      const cases: [Uint8Array, string, RegExp][] = [
        [new TextEncoder().encode('GIF89a not a model at all'), 'ONNX_NOT_A_MODEL', /Not an ONNX model/],
        [trained.slice(0, trained.length - 500), 'ONNX_TRUNCATED', /truncated/i],
        [mlp.toBytes(), 'ONNX_UNSUPPORTED_INPUT', /'features'.*image tensor/],
      ];
      for (const [bytes, reason, message] of cases) {
        await unchanged(async () => {
          const res = await fx.request('POST', '/api/v1/models/import', {
            token: fx.tokens.operator,
            body: importBody(bytes),
          });
          expect(res.status, reason).toBe(422);
          expect(res.json.error).toMatchObject({ code: 'MODEL_INVALID', details: { reason } });
          expect(res.json.error.message).toMatch(message);
        });
      }
    });

    it('refuses preprocessing or classes that do not fit the model', async () => {
      await unchanged(async () => {
        const res = await fx.request('POST', '/api/v1/models/import', {
          token: fx.tokens.operator,
          body: importBody(trained, {
            preprocessing: { layout: 'NHWC', channels: 1, height: 28, width: 28 },
          }),
        });
        expect(res.status).toBe(400);
        expect(res.json.error.details).toEqual({ reason: 'PREPROCESSING_MISMATCH' });
      });
    });

    it('fails the job, naming the problem, when calibration images have the wrong shape', async () => {
      const big = await writeDigitFolder(join(dir, 'big'), { classes: ['0', '1'], perClass: 3 });
      await unchanged(async () => {
        const res = await fx.request('POST', '/api/v1/models/import', {
          token: fx.tokens.operator,
          body: importBody(trained, {
            name: 'wrong-shape',
            calibration: { kind: 'image-folder', path: big, height: 32, width: 32 },
          }),
        });
        expect(res.status).toBe(202);
        const done = await env.runner.wait(res.json.job.id);
        expect(done.status).toBe('failed');
        expect(done.error).toMatchObject({ code: 'VALIDATION_FAILED', reason: 'QUANT_CALIBRATION_SHAPE' });
        expect(done.error?.message).toMatch(/1×32×32.*expects 1×28×28/);
      });
    });
  });

  it('fails a training job on a single-class or unreadable folder, leaving the registry as it was', async () => {
    const single = await writeDigitFolder(join(dir, 'single'), { classes: ['3'], perClass: 4 });
    const broken = await writeDigitFolder(join(dir, 'broken'), { classes: ['3', '4'], perClass: 4 });
    await writeFile(join(broken, '4', 'zz.jpg'), 'truncated jpeg');
    for (const [path, reason] of [
      [single, 'DATASET_SINGLE_CLASS'],
      [broken, 'DATASET_UNREADABLE_IMAGE'],
    ] as const) {
      await unchanged(async () => {
        const res = await fx.request('POST', '/api/v1/models/other/train', {
          token: fx.tokens.operator,
          body: { dataset: { kind: 'image-folder', path }, hyperparameters: TINY_TRAINING },
        });
        const done = await env.runner.wait(res.json.job.id);
        expect(done).toMatchObject({ status: 'failed', error: { code: 'VALIDATION_FAILED', reason } });
      });
    }
  });

  it('needs an admin for an external trainer command', async () => {
    const body = { trainer: { kind: 'external-command', command: ['true'] } };
    const res = await fx.request('POST', '/api/v1/models/digits/train', { token: fx.tokens.operator, body });
    expect(res.status).toBe(403);
    expect(res.json.error.message).toMatch(/admin/);
  });

  it('starts quantize and evaluate jobs on a version; cancels a job', async () => {
    const evaluate = await fx.request('POST', '/api/v1/models/digits/versions/1/evaluate', {
      token: fx.tokens.operator,
      body: {},
    });
    expect(evaluate.status).toBe(202);
    const quantize = await fx.request('POST', '/api/v1/models/digits/versions/1/quantize', {
      token: fx.tokens.operator,
      body: {},
    });
    const cancelled = await fx.request('DELETE', `/api/v1/jobs/${quantize.json.job.id}`, {
      token: fx.tokens.operator,
    });
    expect(cancelled.json.status).toBe('cancelled');
    const evaluated = await env.runner.wait(evaluate.json.job.id);
    expect(evaluated).toMatchObject({
      status: 'succeeded',
      result: { version: 1, champion: { skipped: 'this version is the champion' } },
    });
    expect((await fx.request('POST', '/api/v1/models/digits/versions/5/quantize', { body: {} })).status).toBe(
      404,
    );
    expect(
      (await fx.request('GET', '/api/v1/jobs', { token: fx.tokens.viewer })).json.items.length,
    ).toBeGreaterThan(3);
    expect(
      (await fx.request('GET', '/api/v1/jobs/job-000000000000', { token: fx.tokens.viewer })).status,
    ).toBe(404);
  });

  it('documents the routes in the OpenAPI document', async () => {
    const doc = await fx.request('GET', '/openapi.json', { token: null });
    for (const path of [
      '/api/v1/keys',
      '/api/v1/models/{name}/resolve',
      '/api/v1/artifacts/{sha256}',
      '/api/v1/jobs/{id}/events',
      '/api/v1/models/import',
    ]) {
      expect(Object.keys(doc.json.paths)).toContain(path);
    }
  });
});
