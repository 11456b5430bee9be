// fast-check arbitraries for every wire payload: the property tests generate valid messages from
// these and check they survive encode → decode unchanged.
import fc from 'fast-check';
import { base64Encode } from '../encoding.ts';
import { ERROR_CODES } from '../errors.ts';
import type { ModelManifestInput } from '../manifest.ts';
import type { ArtifactRequest } from '../messages/artifact.ts';
import type { DesiredStateInput } from '../messages/desired.ts';
import type { ReportedState } from '../messages/reported.ts';
import type { SampleBatch } from '../messages/samples.ts';
import type { DeviceStatus } from '../messages/status.ts';
import type { TelemetryWindowInput } from '../messages/telemetry.ts';

const idChars = 'abcdefghijklmnopqrstuvwxyz0123456789_-'.split('');
const headChars = 'abcdefghijklmnopqrstuvwxyz0123456789'.split('');

export const deviceIdArb = fc
  .tuple(fc.constantFrom(...headChars), fc.array(fc.constantFrom(...idChars), { maxLength: 63 }))
  .map(([h, rest]) => h + rest.join(''));
export const sha256Arb = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .map((b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(''));
export const versionArb = fc.integer({ min: 1, max: 999_999_999 }).map(String);
export const modelRefArb = fc.record({
  name: deviceIdArb,
  version: versionArb,
  variant: fc.constantFrom('fp32' as const, 'int8' as const),
  sha256: sha256Arb,
});
const epochArb = fc.integer({ min: 0, max: 4_102_444_800_000 });
const tokenArb = fc.stringMatching(/^[A-Za-z0-9_-]{6,40}$/);
const base64Arb = fc.uint8Array({ minLength: 1, maxLength: 64 }).map(base64Encode);
const countArb = fc.nat({ max: Number.MAX_SAFE_INTEGER });

export const statusArb: fc.Arbitrary<DeviceStatus> = fc.record({
  v: fc.constant(1 as const),
  state: fc.constantFrom('online' as const, 'offline' as const),
  agentVersion: fc.stringMatching(/^[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{1,2}$/),
  profile: fc.constantFrom('raspberry-pi-4', 'pi-zero-2w', 'jetson-orin-nano'),
  bootId: tokenArb,
  at: epochArb,
});

export const manifestArb: fc.Arbitrary<ModelManifestInput> = fc.record({
  v: fc.constant(1 as const),
  name: deviceIdArb,
  version: versionArb,
  variant: fc.constantFrom('fp32' as const, 'int8' as const),
  sha256: sha256Arb,
  size: fc.integer({ min: 1, max: 50_000_000 }),
  format: fc.constant('onnx' as const),
  createdAt: fc
    .date({ min: new Date('2020-01-01'), max: new Date('2099-01-01'), noInvalidDate: true })
    .map((d) => d.toISOString()),
  input: fc.record({
    name: fc.constant('input'),
    shape: fc.constant(['batch', 1, 28, 28]),
    dtype: fc.constant('float32' as const),
  }),
  outputs: fc.constant([
    {
      name: 'probabilities',
      shape: ['batch', 10],
      dtype: 'float32' as const,
      role: 'probabilities' as const,
    },
    { name: 'embedding', shape: ['batch', 32], dtype: 'float32' as const, role: 'embedding' as const },
  ]),
  classes: fc.constant(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']),
  preprocessing: fc.record({
    layout: fc.constantFrom('NCHW' as const, 'NHWC' as const),
    channels: fc.constant(1 as const),
    height: fc.integer({ min: 1, max: 512 }),
    width: fc.integer({ min: 1, max: 512 }),
    resize: fc.constantFrom('stretch' as const, 'contain' as const, 'cover' as const),
    padValue: fc.integer({ min: 0, max: 255 }),
    scale: fc.constant(1 / 255),
    mean: fc.constant([0.1307]),
    std: fc.constant([0.3081]),
    invert: fc.boolean(),
  }),
  sessionOptions: fc.constantFrom<Record<string, string>>({}, { 'session.disable_quant_qdq': '1' }),
  golden: fc.option(
    fc.record({
      output: fc.constant('probabilities'),
      tolerance: fc.constantFrom(1e-3, 1e-2),
      cases: fc.array(fc.record({ input: base64Arb, expected: base64Arb }), { minLength: 1, maxLength: 3 }),
    }),
    { nil: undefined },
  ),
});

const signatureArb = fc.record({
  alg: fc.constant('ed25519' as const),
  keyId: fc
    .uint8Array({ minLength: 8, maxLength: 8 })
    .map((b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')),
  value: fc.uint8Array({ minLength: 64, maxLength: 64 }).map(base64Encode),
});

export const desiredArb: fc.Arbitrary<DesiredStateInput> = fc.record({
  v: fc.constant(1 as const),
  generation: countArb,
  rolloutId: fc.option(tokenArb, { nil: null }),
  model: fc.option(
    fc
      .tuple(manifestArb, signatureArb, fc.integer({ min: 1024, max: 1024 * 1024 }))
      .map(([manifest, signature, chunkSize]) => ({
        manifest,
        signature,
        delivery: { chunkSize, chunks: Math.ceil(manifest.size / chunkSize) },
      })),
    { nil: null },
  ),
  config: fc.record(
    {
      telemetryWindowSeconds: fc.integer({ min: 5, max: 3600 }),
      samplingRate: fc.double({ min: 0, max: 1, noNaN: true }),
    },
    { requiredKeys: [] },
  ),
  issuedAt: epochArb,
});

const reasonArb = fc.constantFrom(...ERROR_CODES);
export const reportedArb: fc.Arbitrary<ReportedState> = fc.record({
  v: fc.constant(1 as const),
  generation: countArb,
  rolloutId: fc.option(tokenArb, { nil: null }),
  active: fc.option(modelRefArb, { nil: null }),
  previous: fc.option(modelRefArb, { nil: null }),
  phase: fc.oneof(
    fc.constant({ state: 'idle' as const }),
    fc.tuple(sha256Arb, fc.integer({ min: 1, max: 10_000 })).chain(([sha256, total]) =>
      fc.nat({ max: total }).map((receivedChunks) => ({
        state: 'downloading' as const,
        sha256,
        receivedChunks,
        totalChunks: total,
      })),
    ),
    sha256Arb.map((sha256) => ({ state: 'verifying' as const, sha256 })),
    sha256Arb.map((sha256) => ({ state: 'active' as const, sha256 })),
    fc.record({
      state: fc.constant('failed' as const),
      sha256: sha256Arb,
      reason: reasonArb,
      message: fc.string({ maxLength: 80 }),
    }),
    fc.record({
      state: fc.constant('rolled_back' as const),
      reason: reasonArb,
      message: fc.string({ maxLength: 80 }),
    }),
    fc.record({
      state: fc.constant('rejected' as const),
      generation: countArb,
      reason: reasonArb,
      message: fc.string({ maxLength: 80 }),
    }),
  ),
  shadow: fc.option(
    fc.oneof(
      sha256Arb.map((sha256) => ({ sha256, state: 'fetching' as const })),
      sha256Arb.map((sha256) => ({ sha256, state: 'ready' as const })),
      fc.record({
        sha256: sha256Arb,
        state: fc.constant('failed' as const),
        reason: reasonArb,
        message: fc.string({ maxLength: 80 }),
      }),
    ),
    { nil: undefined },
  ),
  at: epochArb,
});

const msArb = fc.double({ min: 0, max: 10_000, noNaN: true, noDefaultInfinity: true });
export const telemetryArb: fc.Arbitrary<TelemetryWindowInput> = fc
  .record({
    deviceId: deviceIdArb,
    seq: countArb,
    windowStart: epochArb,
    duration: fc.integer({ min: 0, max: 3_600_000 }),
    model: fc.option(modelRefArb, { nil: null }),
    inferences: countArb,
    errorShare: fc.double({ min: 0, max: 1, noNaN: true }),
    lat: fc.array(msArb, { minLength: 5, maxLength: 5 }),
    classCounts: fc.array(countArb, { maxLength: 10 }),
    meanConfidence: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: null }),
    droppedWindows: fc.nat({ max: 1_000_000 }),
  })
  .map((r) => {
    const [min = 0, p50 = 0, p95 = 0, p99 = 0, max = 0] = [...r.lat].sort((a, b) => a - b);
    return {
      v: 1 as const,
      deviceId: r.deviceId,
      seq: r.seq,
      windowStart: r.windowStart,
      windowEnd: r.windowStart + r.duration,
      model: r.model,
      inferences: r.inferences,
      errors: Math.floor(r.inferences * r.errorShare),
      latencyMs: { count: r.inferences, min, max, mean: p50, p50, p95, p99 },
      classCounts: r.classCounts,
      meanConfidence: r.meanConfidence,
      droppedWindows: r.droppedWindows,
    };
  });

export const artifactRequestArb: fc.Arbitrary<ArtifactRequest> = fc.record({
  v: fc.constant(1 as const),
  sha256: sha256Arb,
  chunkSize: fc.integer({ min: 1024, max: 1024 * 1024 }),
  ranges: fc.array(
    fc.tuple(fc.nat({ max: 10_000 }), fc.nat({ max: 100 })).map(([a, n]) => [a, a + n] as [number, number]),
    { minLength: 1, maxLength: 8 },
  ),
});

export const sampleBatchArb: fc.Arbitrary<SampleBatch> = fc.record({
  v: fc.constant(1 as const),
  deviceId: deviceIdArb,
  samples: fc.array(
    fc.record(
      {
        id: tokenArb,
        capturedAt: epochArb,
        windowSeq: fc.nat(),
        model: modelRefArb,
        prediction: fc.record({
          classIndex: fc.nat({ max: 9 }),
          confidence: fc.double({ min: 0, max: 1, noNaN: true }),
        }),
        reason: fc.constantFrom('random' as const, 'low-confidence' as const),
        tensor: fc.record({ shape: fc.constant([1, 1, 28, 28]), data: base64Arb }),
        label: fc.nat({ max: 9 }),
      },
      { requiredKeys: ['id', 'capturedAt', 'model', 'prediction', 'reason', 'tensor'] },
    ),
    { minLength: 1, maxLength: 4 },
  ),
});
