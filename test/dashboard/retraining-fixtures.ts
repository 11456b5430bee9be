// Seed data of the dashboard retraining test (retraining.test.ts): the `digits` versions it registers
// (tiny real ONNX models), fleet sample rows with real tensors, and the drift trigger, gate
// evaluations and lineage the seeded runs carry.
import { GraphBuilder, judgeChallenger, type schema } from '@edgeloop/cloud';

export const MIN = 60_000;
export const SIDE = 8;
/** The classes of the seeded `digits` model. */
export const CLASSES = ['0', '1', '7'];

/** An 8×8 grey → 3-class linear model: enough for the registry to know the version's classes. */
function tinyModel(seed: number): Uint8Array {
  const b = new GraphBuilder({ opset: 13 });
  const x = b.input('input', ['N', 1, SIDE, SIDE]);
  const flat = b.node('Flatten', [x], { axis: 1 });
  const w = b.initializer(
    'w',
    [SIDE * SIDE, 3],
    Float32Array.from({ length: SIDE * SIDE * 3 }, (_, i) => Math.sin(seed + i)),
  );
  const logits = b.node('MatMul', [flat, w], {}, 'logits');
  b.output(logits, ['N', 3]);
  b.output(b.node('Softmax', [logits], { axis: 1 }, 'probabilities'), ['N', 3]);
  return b.toBytes();
}

export function registration(version: number, aliases: string[]) {
  return {
    model: 'digits',
    lineage: {
      datasetHash: String(version).repeat(64),
      trainingParameters: { epochs: 2 },
      codeVersion: 'test',
      ...(version > 1 ? { parentVersion: version - 1 } : {}),
    },
    aliases,
    variants: (['fp32', 'int8'] as const).map((variant, i) => ({
      variant,
      bytes: tinyModel(version * 10 + i),
      manifestFields: {
        input: { name: 'input', shape: ['batch', 1, SIDE, SIDE], dtype: 'float32' as const },
        outputs: [
          { name: 'logits', shape: ['batch', 3], dtype: 'float32' as const, role: 'logits' as const },
          {
            name: 'probabilities',
            shape: ['batch', 3],
            dtype: 'float32' as const,
            role: 'probabilities' as const,
          },
        ],
        preprocessing: {
          layout: 'NCHW' as const,
          channels: 1 as const,
          height: SIDE,
          width: SIDE,
          scale: 1 / 255,
          mean: [0],
          std: [1],
        },
      },
    })),
  };
}

/** A bright diagonal stroke on black, one pixel further right per `shift`: previews that differ. */
function strokeTensor(shift: number): Uint8Array {
  const pixels = new Float32Array(SIDE * SIDE);
  for (let y = 0; y < SIDE; y++) pixels[y * SIDE + ((y + shift) % SIDE)] = 1;
  return new Uint8Array(pixels.buffer);
}

export function sampleRow(
  i: number,
  extra: Partial<typeof schema.fleetSamples.$inferInsert> = {},
): typeof schema.fleetSamples.$inferInsert {
  return {
    deviceId: `cam-${(i % 2) + 1}`,
    sampleId: `s-${i}`,
    modelName: 'digits',
    modelVersion: 1,
    variant: 'int8',
    capturedAt: new Date(Date.now() - (20 - i) * MIN),
    windowSeq: 3 + i,
    reason: 'low-confidence',
    predictedClass: i % 3,
    confidence: 0.3 + i / 100,
    shape: [1, 1, SIDE, SIDE],
    tensor: strokeTensor(i),
    ...extra,
  };
}

export const DRIFT = {
  version: 1,
  scope: 'device_class:raspberry-pi-4',
  state: 'alert',
  drifted: ['brightness', 'contrast'],
  samples: 500,
};
const GATES = { maxBaseAccuracyDrop: 0.01, minEdgeAccuracyGain: 0.01 };
const SETS = { base: { name: 'digits-8x8', version: 'a1b2c3', count: 300 }, edge: { count: 60 } };

/** fp32 gains too little on edge data; int8 forgets the original task. */
export const REJECTED = {
  fp32: { champion: { base: 0.95, edge: 0.7 }, challenger: { base: 0.948, edge: 0.705 } },
  int8: { champion: { base: 0.94, edge: 0.69 }, challenger: { base: 0.9, edge: 0.8 } },
};
export const PASSED = {
  fp32: { champion: { base: 0.95, edge: 0.62 }, challenger: { base: 0.951, edge: 0.81 } },
};

export function evaluation(variants: typeof REJECTED | typeof PASSED) {
  const verdict = judgeChallenger(variants, GATES, { base: 300, edge: 60 });
  return {
    evaluation: { gates: GATES, sets: SETS, variants, checks: verdict.checks, passed: verdict.passed },
    reason: verdict.reason,
  };
}

export const LINEAGE = {
  baseDataset: {
    name: 'digits-8x8',
    version: 'a1b2c3',
    source: { kind: 'mnist' },
    fromModelVersion: 1,
    test: 300,
  },
  dataset: { name: 'digits-8x8', version: 'f00d', train: 1140 },
  samples: {
    usable: 200,
    train: 140,
    holdout: 60,
    skipped: {},
    devices: ['cam-1', 'cam-2', 'cam-3'],
    windows: { 'cam-1': '3-7', 'cam-2': '4,9', 'cam-3': '11' },
    modelVersions: [1],
    labelSources: { device: 180, operator: 20 },
  },
};
