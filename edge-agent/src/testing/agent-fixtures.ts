// Fixtures for agent tests: a brightness classifier whose outputs are known by hand, signed desired
// states built the way the cloud builds them, solid-colour test images, and a config with short waits.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  base64Encode,
  type DesiredStateInput,
  type DeviceProfile,
  deviceProfileSchema,
  type ModelManifest,
  type ModelManifestInput,
  type Signature,
} from '@edgeloop/shared';
import sharp from 'sharp';
import type { AgentConfigInput } from '../config.ts';
import { softmax } from '../inference.ts';
import { signTestManifest, type TestSigningKey, testManifest } from './fixtures.ts';
import { linearClassifierModel } from './onnx-models.ts';

export const TEST_PROFILE: DeviceProfile = deviceProfileSchema.parse({
  profileVersion: 1,
  id: 'simulated',
  name: 'Test device',
  arch: 'x64',
  executionProviders: ['cpu'],
  threads: { intraOp: 1, interOp: 1 },
  preferredVariant: 'fp32',
  maxModelBytes: 1024 * 1024,
  memoryBudgetBytes: 64 * 1024 * 1024,
  telemetry: { windowSeconds: 60, queueMaxBytes: 64 * 1024 },
  sampling: { enabled: false, rate: 0, lowConfidenceThreshold: 0, maxPerHour: 0 },
  download: { chunkSize: 1024 },
});

const SIDE = 32;
const FEATURES = SIDE * SIDE;

function float32Base64(values: ArrayLike<number>): string {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] ?? 0, true);
  return base64Encode(bytes);
}

export interface TestModel {
  bytes: Uint8Array;
  manifest: ModelManifest;
}

/**
 * 32×32 grey in, three classes: `<prefix>dark` wins on a black image, `<prefix>bright` on a white one.
 * About 12 KB, so 12 chunks of 1 KiB. Each version has its own bias, hence its own bytes and sha256.
 * `goldenShift` corrupts the recorded golden output (a model that fails its golden check).
 */
export function brightnessModel(
  version: string,
  options: { labelPrefix?: string; goldenShift?: number; overrides?: Partial<ModelManifestInput> } = {},
): TestModel {
  const weights = new Float32Array(FEATURES * 3);
  for (let f = 0; f < FEATURES; f++) weights.set([-1 / 64, 1 / 64, 0], f * 3);
  const bias = new Float32Array([8, -8, Number(version) / 1000]);
  const bytes = linearClassifierModel({
    inputShape: ['batch', 1, SIDE, SIDE],
    weights,
    bias,
    outputs: ['probabilities'],
  });
  const input = Float32Array.from({ length: FEATURES }, (_, i) => (i % 7) / 7);
  const logits = [0, 1, 2].map(
    (c) => (bias[c] ?? 0) + input.reduce((sum, x, f) => sum + x * (weights[f * 3 + c] ?? 0), 0),
  );
  const expected = Array.from(softmax(Float32Array.from(logits), 3), (p) => p + (options.goldenShift ?? 0));
  const prefix = options.labelPrefix ?? '';
  const manifest = testManifest(bytes, {
    version,
    input: { name: 'input', shape: ['batch', 1, SIDE, SIDE], dtype: 'float32' },
    classes: [`${prefix}dark`, `${prefix}bright`, `${prefix}grey`],
    preprocessing: { layout: 'NCHW', channels: 1, height: SIDE, width: SIDE },
    golden: {
      output: 'probabilities',
      tolerance: 1e-4,
      cases: [{ input: float32Base64(input), expected: float32Base64(expected) }],
    },
    ...options.overrides,
  });
  return { bytes, manifest };
}

export function signedDesired(options: {
  generation: number;
  model: TestModel | null;
  key: TestSigningKey;
  chunkSize?: number;
  signature?: Signature | null;
  rolloutId?: string | null;
  issuedAt?: number;
}): DesiredStateInput {
  const chunkSize = options.chunkSize ?? 1024;
  const model = options.model;
  return {
    v: 1,
    generation: options.generation,
    rolloutId: options.rolloutId ?? 'rollout-1',
    model: model
      ? {
          manifest: model.manifest,
          signature: (options.signature ?? signTestManifest(model.manifest, options.key)) as Signature,
          delivery: { chunkSize, chunks: Math.ceil(model.manifest.size / chunkSize) },
        }
      : null,
    config: {},
    issuedAt: options.issuedAt ?? Date.now(),
  };
}

export async function solidImage(value: number, format: 'png' | 'jpeg' = 'png'): Promise<Uint8Array> {
  const image = sharp({
    create: { width: 40, height: 30, channels: 3, background: { r: value, g: value, b: value } },
  });
  return new Uint8Array(await (format === 'png' ? image.png() : image.jpeg()).toBuffer());
}

let counter = 0;
/** A device id unique to this run, so tests can share an external broker (MQTT_URL). */
export function uniqueDeviceId(prefix = 'dev'): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}

export async function testDataDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'el-agent-'));
}

/** A config with short waits; the tests' timings are built on these. */
export function testAgentConfig(
  overrides: Partial<AgentConfigInput> & Pick<AgentConfigInput, 'brokerUrl' | 'dataDir' | 'trustedKeys'>,
): AgentConfigInput {
  return {
    deviceId: uniqueDeviceId(),
    token: 'device-secret',
    profile: 'simulated',
    api: { host: '127.0.0.1', port: 0 },
    ...overrides,
    tuning: {
      keepaliveSeconds: 5,
      reconnect: { initialMs: 50, maxMs: 400 },
      connectTimeoutMs: 2000,
      chunkQuietMs: 300,
      maxQuietRetries: 20,
      requestWindowChunks: 4,
      progressIntervalMs: 0,
      maxUpdateAttempts: 2,
      retryDelayMs: 200,
      maxRetryDelayMs: 800,
      healthConfirmMs: 60_000,
      healthConfirmInferences: 3,
      telemetryWindowMs: 60_000,
      ...overrides.tuning,
    },
  };
}
