import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  base64Decode,
  DEFAULT_PROJECTION,
  type EdgeloopError,
  referenceProfileSchema,
  sketchSpecFingerprint,
} from '@edgeloop/shared';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDataset } from '../datasets/index.ts';
import type { Database } from '../db/index.ts';
import { events } from '../db/schema.ts';
import { testDatabases } from '../db/testing.ts';
import { createSession, GraphBuilder, imageTensor } from '../onnx/index.ts';
import { convBnCnn } from '../quantization/test-models.ts';
import { FsArtifactStore, ModelRegistry, SigningKeys, verifyManifest } from '../registry/index.ts';
import { mnistSubset } from '../training/fixtures/mnist-digits.ts';
import { JobRunner } from './job.ts';
import { detachedContext, ModelPipeline } from './model-pipeline.ts';
import type { ProgressUpdate } from './progress.ts';
import { FAST_LATENCY, snapshotRegistry, TINY_TRAINING, tempDir, writeDigitFolder } from './testing.ts';

const digits = mnistSubset({ train: 300, validation: 60, test: 60 });

describe.each(testDatabases())('ModelPipeline on $name', ({ open }) => {
  let database: Database;
  let dir: string;
  let store: FsArtifactStore;
  let keys: SigningKeys;
  let registry: ModelRegistry;
  let pipeline: ModelPipeline;
  let firstModel: Uint8Array;

  beforeAll(async () => {
    database = await open();
    dir = await tempDir('edgeloop-pipeline-');
    store = new FsArtifactStore(join(dir, 'artifacts'));
    keys = SigningKeys.generate();
    registry = new ModelRegistry({ db: database.db, store, signer: keys });
    pipeline = new ModelPipeline({
      registry,
      store,
      latency: FAST_LATENCY,
      quantize: { latency: FAST_LATENCY },
    });
  });
  afterAll(async () => {
    await database.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('trains, quantizes, evaluates and registers a signed champion with lineage and golden sets', async () => {
    const updates: ProgressUpdate[] = [];
    const outcome = await pipeline.train(
      { model: 'digits', dataset: digits, hyperparameters: TINY_TRAINING, actor: 'test' },
      { signal: new AbortController().signal, progress: (u) => updates.push(u) },
    );
    expect(outcome).toMatchObject({ model: 'digits', version: 1, aliases: ['champion'] });
    expect(outcome.champion).toMatchObject({ championVersion: null, skipped: 'no champion yet' });
    expect(outcome.variants.map((v) => v.variant)).toEqual(['fp32', 'int8']);
    for (const v of outcome.variants) expect(v.accuracy).toBeGreaterThan(0.3); // 10 classes: chance is 0.1

    // Progress moves forward through the phases and reaches registration.
    const fractions = updates.map((u) => u.fraction);
    expect(fractions).toEqual([...fractions].sort((a, b) => a - b));
    expect(new Set(updates.map((u) => u.phase))).toEqual(
      new Set(['dataset', 'training', 'quantizing', 'evaluating', 'golden', 'champion', 'registering']),
    );
    expect(updates.some((u) => u.phase === 'training' && /epoch 1\/1/.test(u.detail ?? ''))).toBe(true);

    const version = await registry.getVersion('digits', 1);
    expect(version.lineage).toMatchObject({
      datasetHash: expect.stringMatching(/^[0-9a-f]{64}$/),
      dataset: { name: 'mnist-subset', version: digits.version, source: { kind: 'mnist' } },
      trainer: 'builtin',
      codeVersion: expect.stringMatching(/^0\.1\.0(\+[0-9a-f]{7,40})?$/),
      trainingParameters: { ...TINY_TRAINING, seed: 1 },
    });
    expect(version.lineage.datasetHash.startsWith(digits.version)).toBe(true);
    const evaluation = (
      version.metrics as {
        evaluation: Record<
          string,
          { accuracy: number; confusion: number[][]; latency: { b1: { p50: number }; b32: unknown } }
        >;
      }
    ).evaluation;
    expect(Object.keys(evaluation)).toEqual(['fp32', 'int8']);
    expect(evaluation.fp32!.confusion.flat().reduce((a, b) => a + b, 0)).toBe(60);
    expect(evaluation.int8!.latency.b1.p50).toBeGreaterThan(0);
    expect(evaluation.fp32!.latency.b32).not.toBeNull();

    for (const variant of version.variants) {
      const { manifest, signature } = variant;
      expect(verifyManifest(manifest, signature, keys.publicKeyRaw)).toBe(true);
      expect(manifest.input).toEqual({ name: 'input', shape: ['batch', 1, 28, 28], dtype: 'float32' });
      expect(manifest.outputs.map((o) => [o.name, o.role])).toEqual(
        expect.arrayContaining([
          ['logits', 'logits'],
          ['probabilities', 'probabilities'],
          ['embedding', 'embedding'],
        ]),
      );
      expect(manifest.preprocessing).toMatchObject({
        layout: 'NCHW',
        channels: 1,
        height: 28,
        width: 28,
        scale: 1 / 255,
      });
      expect(manifest.classes).toEqual(digits.classes);
      const golden = manifest.golden!;
      expect(golden.output).toBe('probabilities');
      expect(golden.cases.length).toBeGreaterThanOrEqual(8);
      // The golden set holds what this variant outputs: rerun it as a device would.
      const bytes = await store.get(variant.sha256);
      const session = await createSession(bytes, { configEntries: manifest.sessionOptions });
      for (const c of golden.cases) {
        const input = new Float32Array(base64Decode(c.input).slice().buffer);
        const expected = new Float32Array(base64Decode(c.expected).slice().buffer);
        const out = (await session.run({ input: imageTensor(input, [1, 1, 28, 28]) })).probabilities!
          .data as Float32Array;
        for (let k = 0; k < expected.length; k++)
          expect(Math.abs(out[k]! - expected[k]!)).toBeLessThanOrEqual(golden.tolerance);
      }
      await session.release();
    }
    const int8 = version.variants.find((v) => v.variant === 'int8')!;
    expect(int8.quantizationReport).toMatchObject({
      format: 'QDQ',
      sessionOptions: int8.manifest.sessionOptions,
    });
    firstModel = await store.get(version.variants[0]!.sha256);
  });

  it('records a reference profile on held-out images and signs its sketch spec into every manifest', async () => {
    const version = await registry.getVersion('digits', 1);
    const profile = referenceProfileSchema.parse(version.referenceProfile);
    // 60 validation images are under the minimum, so the 60 test images top them up.
    expect(profile.sampleSize).toBe(120);
    expect(profile.spec.classes).toBe(10);
    expect(profile.spec.projection).toEqual(DEFAULT_PROJECTION); // the model has an embedding output
    const names = profile.features.map((f) => f.name);
    expect(names).toEqual(
      expect.arrayContaining(['brightness', 'contrast', 'sharpness', 'confidence', 'embedding.0']),
    );
    // MNIST digits are dark: mean intensity in pixel units, as a camera would measure it.
    const brightness = profile.features.find((f) => f.name === 'brightness')!;
    expect(brightness.mean).toBeGreaterThan(0.05);
    expect(brightness.mean).toBeLessThan(0.25);
    for (const variant of version.variants) {
      const spec = variant.manifest.sketchSpec!;
      expect(sketchSpecFingerprint(spec)).toBe(profile.fingerprint);
      expect(verifyManifest(variant.manifest, variant.signature, keys.publicKeyRaw)).toBe(true);
      // The signature covers the spec: another edge is a different signed manifest.
      const tampered = structuredClone(variant.manifest);
      tampered.sketchSpec!.features[0]!.edges[0]! += 0.01;
      expect(verifyManifest(tampered, variant.signature, keys.publicKeyRaw)).toBe(false);
    }
  });

  it('registers the next training as challenger, compared with the champion', async () => {
    const outcome = await pipeline.train(
      { model: 'digits', dataset: digits, hyperparameters: { ...TINY_TRAINING, seed: 2 }, parentVersion: 1 },
      detachedContext(),
    );
    expect(outcome).toMatchObject({ version: 2, aliases: ['challenger'], champion: { championVersion: 1 } });
    const fp32 = outcome.champion.variants.fp32!;
    expect(fp32.agreement).toBeGreaterThan(0);
    expect(fp32.champion.bytes).toBe(firstModel.length);
    expect(fp32.latencyRatioB1).toBeGreaterThan(0);
    expect((await registry.getVersion('digits', 2)).lineage.parentVersion).toBe(1);
    expect((await registry.getModel('digits')).aliases).toEqual({ champion: 1, challenger: 2 });
  });

  it('imports a user ONNX model: validated, quantized on calibration images, registered', async () => {
    const outcome = await pipeline.importModel(
      {
        model: 'imported-digits',
        bytes: firstModel,
        classes: digits.classes,
        preprocessing: { layout: 'NCHW', channels: 1, height: 28, width: 28 },
        calibration: digits,
      },
      detachedContext(),
    );
    expect(outcome).toMatchObject({ model: 'imported-digits', version: 1, aliases: ['champion'] });
    const version = await registry.getVersion('imported-digits', 1);
    expect(version.lineage).toMatchObject({ trainer: 'import' });
    expect(version.variants.map((v) => v.variant)).toEqual(['fp32', 'int8']);
    expect(version.variants[0]!.sha256).toBe((await registry.getVersion('digits', 1)).variants[0]!.sha256);
  });

  it('quantizes and evaluates an existing version again', async () => {
    const requantized = await pipeline.quantizeVersion({ model: 'digits', version: 1 }, detachedContext());
    expect(requantized).toMatchObject({ version: 3, aliases: [] });
    expect((await registry.getVersion('digits', 3)).lineage.parentVersion).toBe(1);

    const evaluated = await pipeline.evaluateVersion({ model: 'digits', version: 2 }, detachedContext());
    expect(Object.keys(evaluated.variants)).toEqual(['fp32', 'int8']);
    expect(evaluated.variants.fp32!.accuracy).toBeGreaterThan(0.3);
    expect(evaluated.champion.championVersion).toBe(1);
  });

  describe('bad input fails with a coded message and leaves the registry untouched', () => {
    let folders: string;
    const digitsImport =
      (bytes: Uint8Array, extra: Record<string, unknown> = {}) =>
      () =>
        pipeline.importModel(
          {
            model: 'bad-input',
            bytes,
            classes: digits.classes,
            preprocessing: { layout: 'NCHW', channels: 1, height: 28, width: 28 },
            calibration: digits,
            ...extra,
          },
          detachedContext(),
        );
    const trainOn = (path: string) => () =>
      pipeline.train(
        { model: 'bad-input', dataset: { kind: 'image-folder', path }, hyperparameters: TINY_TRAINING },
        detachedContext(),
      );

    beforeAll(async () => {
      folders = join(dir, 'folders');
      await writeDigitFolder(join(folders, 'unreadable'), { classes: ['0', '1'], perClass: 5 });
      await writeFile(join(folders, 'unreadable', '1', 'broken.png'), 'this is not a png');
      await writeDigitFolder(join(folders, 'single'), { classes: ['7'], perClass: 5 });
    });

    async function expectRefused(
      attempt: () => Promise<unknown>,
      code: string,
      reason: string,
      message: RegExp,
    ) {
      const before = await snapshotRegistry(database.db, store);
      const error = (await attempt().then(
        () => undefined,
        (e: unknown) => e,
      )) as EdgeloopError | undefined;
      expect(error, 'the operation should have failed').toBeDefined();
      expect({ code: error!.code, reason: (error!.details as { reason?: string }).reason }).toEqual({
        code,
        reason,
      });
      expect(error!.message).toMatch(message);
      expect(await snapshotRegistry(database.db, store)).toEqual(before);
    }

    it('a file that is not ONNX', async () => {
      await expectRefused(
        digitsImport(new TextEncoder().encode('{"this": "is json, not a model"}')),
        'MODEL_INVALID',
        'ONNX_NOT_A_MODEL',
        /^model file: Not an ONNX model/,
      );
    });

    it('a truncated model', async () => {
      await expectRefused(
        digitsImport(firstModel.slice(0, firstModel.length - 700)),
        'MODEL_INVALID',
        'ONNX_TRUNCATED',
        /truncated/i,
      );
    });

    it('a corrupted model', async () => {
      const corrupted = firstModel.slice();
      for (let i = 0; i < 64; i++) corrupted[i * 3] = 0xff;
      await expectRefused(
        digitsImport(corrupted),
        'MODEL_INVALID',
        expect.stringMatching(/^ONNX_/) as unknown as string,
        /^model file: /,
      );
    });

    it('an ONNX model whose input is not an image tensor', async () => {
      const b = new GraphBuilder({ opset: 13 });
      const x = b.input('features', ['N', 784]);
      const w = b.initializer('w', [784, 10], new Float32Array(7840));
      b.output(b.node('MatMul', [x, w], {}, 'logits'), ['N', 10]);
      await expectRefused(
        digitsImport(b.toBytes()),
        'MODEL_INVALID',
        'ONNX_UNSUPPORTED_INPUT',
        /features.*4-D image tensor/,
      );
    });

    it('a dataset folder with an unreadable image', async () => {
      await expectRefused(
        trainOn(join(folders, 'unreadable')),
        'VALIDATION_FAILED',
        'DATASET_UNREADABLE_IMAGE',
        /broken\.png/,
      );
    });

    it('a dataset folder with a single class', async () => {
      await expectRefused(
        trainOn(join(folders, 'single')),
        'VALIDATION_FAILED',
        'DATASET_SINGLE_CLASS',
        /class/,
      );
    });

    it('a dataset folder that does not exist', async () => {
      await expectRefused(
        trainOn(join(folders, 'nowhere')),
        'VALIDATION_FAILED',
        'DATASET_NOT_FOUND',
        /nowhere/,
      );
    });

    it('calibration data of the wrong shape', async () => {
      const small = buildDataset({
        name: 'tiny-8x8',
        classes: ['a', 'b'],
        shape: { channels: 1, height: 8, width: 8 },
        train: { count: 2, images: new Float32Array(128), labels: Uint8Array.of(0, 1) },
        validation: { count: 2, images: new Float32Array(128), labels: Uint8Array.of(0, 1) },
        test: { count: 2, images: new Float32Array(128), labels: Uint8Array.of(0, 1) },
        source: { kind: 'mnist' },
      });
      await expectRefused(
        digitsImport(firstModel, { calibration: small }),
        'VALIDATION_FAILED',
        'QUANT_CALIBRATION_SHAPE',
        /calibration data images are 1×8×8.*expects 1×28×28/,
      );
    });

    it('preprocessing that does not match the model input', async () => {
      await expectRefused(
        digitsImport(firstModel, { preprocessing: { layout: 'NCHW', channels: 3, height: 32, width: 32 } }),
        'VALIDATION_FAILED',
        'PREPROCESSING_MISMATCH',
        /channels 3 vs 1, height 32 vs 28/,
      );
    });

    it('classes that differ from the model output', async () => {
      await expectRefused(
        digitsImport(firstModel, { classes: ['a', 'b', 'c'] }),
        'VALIDATION_FAILED',
        'CLASS_COUNT_MISMATCH',
        /10 classes but 3/,
      );
    });

    it('a new version whose classes differ from the model', async () => {
      const model = convBnCnn();
      await expect(
        pipeline.importModel(
          {
            model: 'digits',
            bytes: model,
            classes: ['a', 'b', 'c', 'd'],
            preprocessing: { layout: 'NCHW', channels: 1, height: 8, width: 8 },
            calibration: { kind: 'mnist' },
          },
          detachedContext(),
        ),
      ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    });
  });

  it('runs as a job: progress, result and start/finish events', async () => {
    const jobs = new JobRunner({ db: database.db, notifyIntervalMs: 0 });
    const seen: string[] = [];
    const job = jobs.start({
      kind: 'import',
      model: 'job-digits',
      actor: 'token:abc',
      run: (context) =>
        pipeline.importModel(
          {
            model: 'job-digits',
            bytes: firstModel,
            classes: digits.classes,
            preprocessing: { layout: 'NCHW', channels: 1, height: 28, width: 28 },
            calibration: digits,
          },
          context,
        ),
    });
    jobs.subscribe(job.id, (j) => seen.push(`${j.status}:${j.phase}`));
    const done = await jobs.wait(job.id);
    expect(done).toMatchObject({ status: 'succeeded', progress: 1, result: { version: 1 }, error: null });
    expect(seen).toContain('running:quantizing');
    expect(seen.at(-1)).toBe('succeeded:done');
    await jobs.close();
    const rows = await database.db.select().from(events).where(eq(events.subject, 'model:job-digits'));
    expect(rows.map((r) => r.kind)).toEqual(
      expect.arrayContaining(['model.job.started', 'model.job.finished', 'model.version.registered']),
    );
    expect(rows.find((r) => r.kind === 'model.job.finished')?.data).toMatchObject({
      jobId: job.id,
      status: 'succeeded',
    });
  });
});
