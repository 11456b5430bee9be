import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDataset, type Dataset } from './dataset.ts';
import { readDatasetDir, writeDatasetDir } from './dataset-files.ts';
import { loadMnistDataset } from './mnist.ts';

let root: string;
let counter = 0;

const small: Dataset = buildDataset({
  name: 'small',
  classes: ['a', 'b', 'c'],
  shape: { channels: 3, height: 2, width: 1 },
  train: {
    count: 2,
    images: Float32Array.from({ length: 12 }, (_, i) => i / 11),
    labels: Uint8Array.of(0, 2),
  },
  validation: { count: 1, images: new Float32Array(6).fill(0.25), labels: Uint8Array.of(1) },
  test: { count: 0, images: new Float32Array(0), labels: new Uint8Array(0) },
  source: { kind: 'merged', parents: ['0123456789abcdef', 'fedcba9876543210'], devices: ['cam-1'] },
});

async function written(dataset: Dataset = small): Promise<string> {
  const dir = join(root, `d${counter++}`);
  await writeDatasetDir(dataset, dir);
  return dir;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'edgeloop-dataset-files-'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('writeDatasetDir / readDatasetDir', () => {
  it('round-trips a dataset exactly', async () => {
    const back = await readDatasetDir(await written());
    expect(back).toEqual(small);
  });

  it('writes the documented layout for MNIST', async () => {
    const digits = loadMnistDataset();
    const dir = await written(digits);
    const manifest = JSON.parse(await readFile(join(dir, 'dataset.json'), 'utf8'));
    expect(manifest).toEqual({
      format: 'edgeloop.dataset/v1',
      name: 'mnist-digits',
      version: digits.version,
      classes: digits.classes,
      shape: { channels: 1, height: 28, width: 28 },
      splits: {
        train: { count: 7000, images: 'train.images.f32', labels: 'train.labels.u8' },
        validation: { count: 1000, images: 'validation.images.f32', labels: 'validation.labels.u8' },
        test: { count: 2000, images: 'test.images.f32', labels: 'test.labels.u8' },
      },
      source: { kind: 'mnist' },
    });
    const images = await readFile(join(dir, 'test.images.f32'));
    expect(images.byteLength).toBe(2000 * 784 * 4);
    expect(images.readFloatLE(4 * 400)).toBe(digits.test.images[400]);
    expect((await readDatasetDir(dir)).version).toBe(digits.version);
  });

  it('reports a missing directory as DATASET_NOT_FOUND', async () => {
    await expect(readDatasetDir(join(root, 'absent'))).rejects.toMatchObject({ code: 'DATASET_NOT_FOUND' });
  });

  it('names a truncated image file', async () => {
    const dir = await written();
    const file = join(dir, 'train.images.f32');
    await truncate(file, 20);
    await expect(readDatasetDir(dir)).rejects.toMatchObject({
      code: 'DATASET_CORRUPT',
      path: file,
      message: expect.stringContaining('train.images.f32'),
    });
  });

  it('names a labels file whose count does not match', async () => {
    const dir = await written();
    await writeFile(join(dir, 'validation.labels.u8'), Uint8Array.of(1, 1));
    await expect(readDatasetDir(dir)).rejects.toMatchObject({
      code: 'DATASET_CORRUPT',
      message: expect.stringContaining('validation.labels.u8'),
    });
  });

  it('rejects a manifest count that disagrees with the files', async () => {
    const dir = await written();
    const manifest = JSON.parse(await readFile(join(dir, 'dataset.json'), 'utf8'));
    manifest.splits.train.count = 3;
    await writeFile(join(dir, 'dataset.json'), JSON.stringify(manifest));
    await expect(readDatasetDir(dir)).rejects.toMatchObject({
      code: 'DATASET_CORRUPT',
      message: expect.stringContaining('train.images.f32'),
    });
  });

  it('rejects an invalid manifest, naming the field', async () => {
    const dir = await written();
    const manifest = JSON.parse(await readFile(join(dir, 'dataset.json'), 'utf8'));
    manifest.format = 'edgeloop.dataset/v9';
    manifest.splits.test.images = '../../etc/passwd';
    await writeFile(join(dir, 'dataset.json'), JSON.stringify(manifest));
    const error = (await readDatasetDir(dir).catch((e: unknown) => e)) as Error;
    expect(error).toMatchObject({ code: 'DATASET_CORRUPT' });
    expect(error.message).toContain('dataset.json');
    expect(error.message).toContain('format');
    expect(error.message).toContain('splits.test.images');

    await writeFile(join(dir, 'dataset.json'), '{ not json');
    await expect(readDatasetDir(dir)).rejects.toMatchObject({ code: 'DATASET_CORRUPT' });
  });

  it('detects changed pixels or labels through the version', async () => {
    const dir = await written();
    const file = join(dir, 'validation.images.f32');
    const bytes = await readFile(file);
    bytes.writeFloatLE(0.75, 0);
    await writeFile(file, bytes);
    await expect(readDatasetDir(dir)).rejects.toMatchObject({
      code: 'DATASET_CORRUPT',
      message: expect.stringContaining('hash'),
    });
  });

  it('rejects out-of-range pixels and labels', async () => {
    const pixels = await written();
    const file = join(pixels, 'train.images.f32');
    const bytes = await readFile(file);
    bytes.writeFloatLE(255, 8);
    await writeFile(file, bytes);
    await expect(readDatasetDir(pixels)).rejects.toThrow(/train\.images\.f32 value 255 at index 2/);

    const labels = await written();
    await writeFile(join(labels, 'train.labels.u8'), Uint8Array.of(0, 3));
    await expect(readDatasetDir(labels)).rejects.toThrow(/train\.labels\.u8 label 3 at index 1/);
  });
});
