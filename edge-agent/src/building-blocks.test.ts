// The pieces the controller will compose, run once end to end on disk: chunks → download → verify
// → slot → session → golden check → classify real images → telemetry window → queue.
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { base64Encode, encodeArtifactChunk } from '@edgeloop/shared';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ArtifactDownload } from './download/artifact-download.ts';
import { runGoldenCheck } from './golden.ts';
import { ModelSession, softmax } from './inference.ts';
import { ImagePreprocessor } from './preprocess.ts';
import { SequenceCounter } from './sequence.ts';
import { ModelSlots } from './slots.ts';
import { TelemetryQueue } from './telemetry-queue.ts';
import { TelemetryWindowAccumulator } from './telemetry-window.ts';
import { signTestManifest, testManifest, testSigningKey } from './testing/fixtures.ts';
import { linearClassifierModel } from './testing/onnx-models.ts';
import { trustedKey, verifySignedArtifact } from './verify.ts';

// 4×4 greyscale in, 3 classes: "dark" wins on a black image, "bright" on a white one.
const FEATURES = 16;
const weights = new Float32Array(FEATURES * 3);
for (let f = 0; f < FEATURES; f++) weights.set([-1, 1, 0], f * 3);
const bias = new Float32Array([8, -8, 0]);
const model = linearClassifierModel({
  inputShape: ['batch', 1, 4, 4],
  weights,
  bias,
  outputs: ['probabilities'],
});

function float32Base64(values: ArrayLike<number>): string {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] ?? 0, true);
  return base64Encode(bytes);
}

const goldenInput = Float32Array.from({ length: FEATURES }, (_, i) => i / FEATURES);
const goldenLogits = [0, 1, 2].map(
  (c) => (bias[c] ?? 0) + goldenInput.reduce((sum, x, f) => sum + x * (weights[f * 3 + c] ?? 0), 0),
);
const manifest = testManifest(model, {
  input: { name: 'input', shape: ['batch', 1, 4, 4], dtype: 'float32' },
  classes: ['dark', 'bright', 'grey'],
  preprocessing: { layout: 'NCHW', channels: 1, height: 4, width: 4 },
  golden: {
    output: 'probabilities',
    tolerance: 1e-4,
    cases: [
      {
        input: float32Base64(goldenInput),
        expected: float32Base64(softmax(Float32Array.from(goldenLogits), 3)),
      },
    ],
  },
});
const key = testSigningKey();
const signed = { manifest, signature: signTestManifest(manifest, key) };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'el-blocks-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('downloads, verifies, installs, checks, classifies and reports', async () => {
  const chunkSize = 1024;
  const total = Math.ceil(model.length / chunkSize);
  await mkdir(join(dir, 'downloads'));
  const download = new ArtifactDownload({
    dir: join(dir, 'downloads'),
    sha256: manifest.sha256,
    size: manifest.size,
    chunkSize,
  });
  await download.start();
  for (let index = total - 1; index >= 0; index--) {
    const payload = model.subarray(index * chunkSize, (index + 1) * chunkSize);
    await download.acceptFrame(
      encodeArtifactChunk({ sha256: manifest.sha256, index, total, chunkSize, payload }),
    );
  }
  const artifactPath = await download.finish();
  await verifySignedArtifact({ path: artifactPath }, signed, [trustedKey(key.publicRaw)]);

  const slots = new ModelSlots(join(dir, 'models'));
  await slots.start();
  const active = await slots.activate(await slots.stage(artifactPath, signed));
  const session = await ModelSession.create(
    new Uint8Array(await readFile(active.modelPath)),
    active.signed.manifest,
    {
      executionProviders: ['cpu'],
      threads: { intraOp: 1, interOp: 1 },
    },
  );
  expect((await runGoldenCheck(session, manifest.golden!)).maxAbsDiff).toBeLessThan(1e-4);
  await slots.markHealthy();

  const sequence = new SequenceCounter(join(dir, 'seq.json'));
  await sequence.start();
  const window = new TelemetryWindowAccumulator({ deviceId: 'cam-1', sequence });
  const preprocess = new ImagePreprocessor(manifest.preprocessing);
  const solid = (v: number) =>
    sharp({ create: { width: 64, height: 48, channels: 3, background: { r: v, g: v, b: v } } });
  const images = [
    new Uint8Array(await solid(250).jpeg().toBuffer()),
    new Uint8Array(await solid(5).png().toBuffer()),
    new Uint8Array(await solid(240).webp().toBuffer()),
  ];
  const labels = [];
  for (const image of images) {
    const result = await session.classify(await preprocess.tensor(image));
    labels.push(result.label);
    window.recordInference(result);
  }
  expect(labels).toEqual(['bright', 'dark', 'bright']);
  await preprocess.tensor(new Uint8Array([1, 2, 3])).catch(() => window.recordError());

  const queue = new TelemetryQueue(join(dir, 'telemetry'), { maxBytes: 64 * 1024 });
  await mkdir(queue.dir);
  await queue.start();
  const { manifest: m } = active.signed;
  await queue.append(
    await window.close({
      model: { name: m.name, version: m.version, variant: m.variant, sha256: m.sha256 },
      classCount: m.classes.length,
    }),
  );
  const [queued] = await queue.peek();
  expect(queued?.window).toMatchObject({ seq: 0, inferences: 4, errors: 1, classCounts: [1, 2, 0] });
  expect(queued?.window.latencyMs?.count).toBe(3);
  await session.dispose();
});
