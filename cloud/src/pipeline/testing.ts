// Test fixtures for the pipeline, the models API and the model CLI: small real data and models, and
// a snapshot of everything the registry holds, to show a failed operation changed nothing.
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadMnistDataset } from '../datasets/index.ts';
import type { Db } from '../db/database.ts';
import * as schema from '../db/schema.ts';
import type { ArtifactStore } from '../registry/index.ts';

/** Small settings for the built-in trainer: a few seconds on a few hundred digits. */
export const TINY_TRAINING = {
  epochs: 1,
  convChannels: [4, 8],
  hidden: 16,
  batchSize: 16,
  learningRate: 0.005,
};

/** Latency measured briefly: tests check that numbers exist, not how fast the machine is. */
export const FAST_LATENCY = { samples: 8, runsPerSample: 1, warmup: 2 };

/** Writes MNIST digits of the given classes as PNG files into `<dir>/<class>/<n>.png` (ImageFolder layout). */
export async function writeDigitFolder(
  dir: string,
  options: { classes: string[]; perClass: number },
): Promise<string> {
  const digits = loadMnistDataset();
  const { train } = digits;
  const pixels = 28 * 28;
  for (const name of options.classes) {
    const label = digits.classes.indexOf(name);
    await mkdir(join(dir, name), { recursive: true });
    let written = 0;
    for (let i = 0; i < train.count && written < options.perClass; i++) {
      if (train.labels[i] !== label) continue;
      const grey = Buffer.from(
        Array.from(train.images.subarray(i * pixels, (i + 1) * pixels), (v) => Math.round(v * 255)),
      );
      await sharp(grey, { raw: { width: 28, height: 28, channels: 1 } })
        .png()
        .toFile(join(dir, name, `${written}.png`));
      written++;
    }
  }
  return dir;
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Everything the registry holds: rows of its tables and the stored blobs. */
export async function snapshotRegistry(db: Db, store: ArtifactStore) {
  const blobs: string[] = [];
  for await (const blob of store.list()) blobs.push(blob.sha256);
  const [models, versions, variants, aliases, artifacts] = await Promise.all([
    db.select().from(schema.models),
    db.select().from(schema.modelVersions),
    db.select().from(schema.modelVariants),
    db.select().from(schema.modelAliases),
    db.select().from(schema.artifacts),
  ]);
  return { models, versions, variants, aliases, artifacts, blobs: blobs.sort() };
}
