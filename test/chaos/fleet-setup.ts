// What a chaos run starts from, written into the cloud's data dir before the cloud first starts: two
// tiny signed model versions (fp32 + int8 each, a few 64 KiB chunks so a download can be cut or
// tampered with mid-way) and the provisioned devices with their one-time credentials.
import { join } from 'node:path';
import { DeviceRegistry, GraphBuilder, openDatabase, openModelRegistry } from '@edgeloop/cloud';
import { base64Encode } from '@edgeloop/shared';

export const MODEL = 'chaos';
export const DEVICE_CLASS = 'simulated';
export const FLEET_TAG = 'chaos';

export interface FleetSetup {
  /** Base64 Ed25519 public key the agents trust. */
  publicKey: string;
  /** Every registered artifact: sha256 → version and variant. */
  artifacts: Map<string, { version: number; variant: string; size: number }>;
  /** Device id → MQTT password. */
  credentials: Map<string, string>;
  versions: number[];
}

/** A 2×2 grey → 3-class linear model, padded past two 64 KiB chunks, with a correct golden case. */
function tinyModel(seed: number) {
  const weights = Float32Array.from({ length: 12 }, (_, i) => Math.sin(seed * 31 + i));
  const b = new GraphBuilder({ opset: 13 });
  const x = b.input('input', ['N', 1, 2, 2]);
  const flat = b.node('Flatten', [x], { axis: 1 });
  const logits = b.node('MatMul', [flat, b.initializer('w', [4, 3], weights)], {}, 'logits');
  const padding = b.initializer(
    'padding',
    [40_000],
    Float32Array.from({ length: 40_000 }, (_, i) => seed + i),
  );
  b.output(b.node('Identity', [padding], {}, 'padding_out'), [40_000]);
  b.output(b.node('Softmax', [logits], { axis: 1 }, 'probabilities'), ['N', 3]);
  const input = [0.1, 0.5, 0.9, 0.3];
  const z = [0, 1, 2].map((c) => input.reduce((sum, v, f) => sum + v * (weights[f * 3 + c] as number), 0));
  const e = z.map((v) => Math.exp(v - Math.max(...z)));
  const expected = e.map((v) => v / e.reduce((s, w) => s + w, 0));
  const f32 = (values: number[]) => base64Encode(new Uint8Array(Float32Array.from(values).buffer));
  return {
    bytes: b.toBytes(),
    manifestFields: {
      input: { name: 'input', shape: ['batch', 1, 2, 2], dtype: 'float32' as const },
      outputs: [
        {
          name: 'probabilities',
          shape: ['batch', 3],
          dtype: 'float32' as const,
          role: 'probabilities' as const,
        },
      ],
      preprocessing: { layout: 'NCHW' as const, channels: 1 as const, height: 2, width: 2 },
      golden: {
        output: 'probabilities',
        tolerance: 1e-4,
        cases: [{ input: f32(input), expected: f32(expected) }],
      },
    },
  };
}

export async function prepareFleet(options: {
  dataDir: string;
  deviceIds: readonly string[];
  rogueId: string;
  cloudSecret: string;
}): Promise<FleetSetup> {
  const database = await openDatabase({ dataDir: join(options.dataDir, 'db') });
  try {
    await database.migrate();
    const { registry, keys } = await openModelRegistry({ db: database.db, dataDir: options.dataDir });
    await registry.createModel({ name: MODEL, classes: ['a', 'b', 'c'] });
    const artifacts = new Map<string, { version: number; variant: string; size: number }>();
    const versions: number[] = [];
    for (const n of [1, 2]) {
      const record = await registry.registerVersion({
        model: MODEL,
        lineage: { datasetHash: 'c'.repeat(64), trainingParameters: {}, codeVersion: 'chaos' },
        variants: [
          { variant: 'fp32', ...tinyModel(n * 10) },
          { variant: 'int8', ...tinyModel(n * 10 + 1) },
        ],
      });
      versions.push(record.version);
      for (const v of record.variants)
        artifacts.set(v.sha256, { version: record.version, variant: v.variant, size: v.size });
    }
    const identity = new DeviceRegistry({
      db: database.db,
      deviceClasses: async () => new Set([DEVICE_CLASS]),
      cloudAccount: { secret: options.cloudSecret },
      hashIterations: 1,
    });
    const credentials = new Map<string, string>();
    for (const id of [...options.deviceIds, options.rogueId]) {
      const tags = id === options.rogueId ? ['rogue'] : [FLEET_TAG];
      const { credentials: c } = await identity.provisionDevice({ id, deviceClass: DEVICE_CLASS, tags });
      credentials.set(id, c.password);
    }
    return { publicKey: keys.publicKey.publicKey, artifacts, credentials, versions };
  } finally {
    await database.close();
  }
}
