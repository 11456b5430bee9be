import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetError } from './errors.ts';
import { loadImageFolder } from './image-folder.ts';

let root: string;

/** A solid-colour image of the given size in the given format. */
async function solid(
  file: string,
  rgb: [number, number, number],
  size = { width: 10, height: 8 },
  alpha = false,
) {
  const channels = alpha ? 4 : 3;
  const image = sharp({
    create: { ...size, channels, background: { r: rgb[0], g: rgb[1], b: rgb[2], alpha: 1 } },
  });
  const ext = file.split('.').pop();
  const encoded =
    ext === 'jpg' ? image.jpeg() : ext === 'webp' ? image.webp({ lossless: true }) : image.png();
  await encoded.toFile(file);
}

async function folder(name: string, classes: Record<string, number>): Promise<string> {
  const dir = join(root, name);
  for (const [cls, count] of Object.entries(classes)) {
    await mkdir(join(dir, cls), { recursive: true });
    for (let i = 0; i < count; i++) await solid(join(dir, cls, `${i}.png`), [i * 10, i * 10, i * 10]);
  }
  return dir;
}

const size = { height: 4, width: 4 };

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'edgeloop-image-folder-'));
  // Mixed formats, sizes and an alpha channel, shared by the decoding tests.
  const dir = join(root, 'colours');
  await mkdir(join(dir, 'red'), { recursive: true });
  await mkdir(join(dir, 'grey'), { recursive: true });
  await solid(join(dir, 'red', 'a.png'), [255, 0, 0], { width: 12, height: 7 }, true);
  await solid(join(dir, 'red', 'b.jpg'), [255, 0, 0]);
  await solid(join(dir, 'red', 'c.WEBP'), [255, 0, 0]);
  await solid(join(dir, 'grey', 'a.png'), [128, 128, 128]);
  await solid(join(dir, 'grey', 'b.png'), [128, 128, 128], { width: 3, height: 3 });
  await writeFile(join(dir, 'grey', 'notes.txt'), 'not an image, ignored');
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('loadImageFolder', () => {
  it('decodes png, jpg and webp from class-named subfolders, resized, sorted by class name', async () => {
    const dir = join(root, 'colours');
    const dataset = await loadImageFolder(dir, { size, channels: 3, split: { validation: 0, test: 0 } });
    expect(dataset.classes).toEqual(['grey', 'red']);
    expect(dataset.shape).toEqual({ channels: 3, height: 4, width: 4 });
    expect(dataset.name).toBe('colours');
    expect(dataset.source).toEqual({ kind: 'image-folder', path: dir });
    expect(dataset.train.count).toBe(5);
    expect(dataset.train.images.length).toBe(5 * 3 * 16);

    for (let i = 0; i < dataset.train.count; i++) {
      const image = dataset.train.images.subarray(i * 48, (i + 1) * 48);
      const channelMeans = [0, 1, 2].map(
        (c) => image.subarray(c * 16, (c + 1) * 16).reduce((a, b) => a + b) / 16,
      );
      // Planar CHW: a red image has a full first plane and empty others; JPEG may shift a little.
      const expected = dataset.train.labels[i] === 1 ? [1, 0, 0] : [128 / 255, 128 / 255, 128 / 255];
      channelMeans.forEach((m, c) => {
        expect(m).toBeCloseTo(expected[c] as number, 1);
      });
    }
  });

  it('converts colour to one grey channel', async () => {
    const dataset = await loadImageFolder(join(root, 'colours'), { size, channels: 1 });
    expect(dataset.shape.channels).toBe(1);
    const all = dataset.train.count + dataset.validation.count + dataset.test.count;
    expect(all).toBe(5);
    const grey = [dataset.train, dataset.validation, dataset.test].find((s) => s.labels.includes(0));
    const at = grey?.labels.indexOf(0) ?? -1;
    expect(grey?.images[at * 16]).toBeCloseTo(128 / 255, 2);
  });

  it('splits stratified and reproducibly, and the version follows the seed', async () => {
    const dir = await folder('many', { cats: 10, dogs: 10 });
    const options = { size, channels: 1 as const, split: { validation: 0.2, test: 0.2 } };
    const a = await loadImageFolder(dir, options);
    const again = await loadImageFolder(dir, options);
    const reseeded = await loadImageFolder(dir, { ...options, seed: 7 });
    expect([a.train.count, a.validation.count, a.test.count]).toEqual([12, 4, 4]);
    expect([...a.validation.labels].sort()).toEqual([0, 0, 1, 1]);
    expect(again.version).toBe(a.version);
    expect(again.train.images).toEqual(a.train.images);
    expect(reseeded.version).not.toBe(a.version);
  });

  it('fails with DATASET_NOT_FOUND for a missing folder or a file', async () => {
    await expect(loadImageFolder(join(root, 'nope'), { size, channels: 1 })).rejects.toMatchObject({
      code: 'DATASET_NOT_FOUND',
      message: expect.stringContaining('nope'),
    });
    await writeFile(join(root, 'plain-file'), 'x');
    await expect(loadImageFolder(join(root, 'plain-file'), { size, channels: 1 })).rejects.toMatchObject({
      code: 'DATASET_NOT_FOUND',
    });
  });

  it('fails with DATASET_EMPTY for no class folders or a class folder without images', async () => {
    const bare = join(root, 'bare');
    await mkdir(bare, { recursive: true });
    await expect(loadImageFolder(bare, { size, channels: 1 })).rejects.toMatchObject({
      code: 'DATASET_EMPTY',
    });

    const dir = await folder('hollow', { full: 2 });
    await mkdir(join(dir, 'hollow-class'));
    await writeFile(join(dir, 'hollow-class', 'readme.md'), 'no images here');
    await expect(loadImageFolder(dir, { size, channels: 1 })).rejects.toMatchObject({
      code: 'DATASET_EMPTY',
      message: expect.stringContaining('hollow-class'),
    });
  });

  it('fails with DATASET_SINGLE_CLASS when there is only one class', async () => {
    const dir = await folder('lonely', { only: 3 });
    const error = await loadImageFolder(dir, { size, channels: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatasetError);
    expect(error).toMatchObject({ code: 'DATASET_SINGLE_CLASS', message: expect.stringContaining('only') });
  });

  it('fails with DATASET_UNREADABLE_IMAGE naming a corrupted file', async () => {
    const dir = await folder('broken', { a: 2, b: 2 });
    const good = await sharp(join(dir, 'a', '0.png')).toBuffer();
    const truncated = join(dir, 'b', 'truncated.png');
    await writeFile(truncated, good.subarray(0, good.length / 2));
    const error = await loadImageFolder(dir, { size, channels: 1 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'DATASET_UNREADABLE_IMAGE', path: truncated });
    expect((error as Error).message).toContain(truncated);
    expect((error as Error).cause).toBeDefined();

    await rm(truncated);
    await writeFile(join(dir, 'b', 'garbage.jpg'), 'this is not a jpeg');
    await expect(loadImageFolder(dir, { size, channels: 1 })).rejects.toMatchObject({
      code: 'DATASET_UNREADABLE_IMAGE',
      message: expect.stringContaining('garbage.jpg'),
    });
  });

  it('rejects a nonsensical target shape before reading anything', async () => {
    await expect(
      loadImageFolder(join(root, 'colours'), { size: { height: 0, width: 4 }, channels: 1 }),
    ).rejects.toMatchObject({
      code: 'DATASET_INVALID_ARGUMENT',
      message: expect.stringContaining('size.height'),
    });
  });
});
