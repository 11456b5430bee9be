import {
  crc32,
  EdgeloopError,
  type PreprocessingSpecInput,
  pixelsToTensor,
  preprocessingSpecSchema,
  rgbToGrey,
} from '@edgeloop/shared';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ImagePreprocessor } from './preprocess.ts';

const spec = (overrides: Partial<PreprocessingSpecInput> = {}) =>
  preprocessingSpecSchema.parse({ layout: 'NCHW', channels: 1, height: 8, width: 8, ...overrides });

/** width×height RGB image where pixel (x, y) = f(x, y). */
function rgbImage(width: number, height: number, f: (x: number, y: number) => [number, number, number]) {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(f(x, y), (y * width + x) * 3);
  return sharp(data, { raw: { width, height, channels: 3 } });
}

async function failure(promise: Promise<unknown>): Promise<EdgeloopError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(EdgeloopError);
  return err as EdgeloopError;
}

/** A PNG whose header declares width×height but holds no real image data. */
function pngDeclaring(width: number, height: number): Uint8Array {
  const chunk = (type: string, data: Uint8Array) => {
    const body = new Uint8Array(4 + data.length);
    body.set(Buffer.from(type, 'ascii'));
    body.set(data, 4);
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.set(body, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // 8-bit greyscale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', new Uint8Array([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])),
    chunk('IEND', new Uint8Array()),
  ]);
}

describe('ImagePreprocessor', () => {
  it('turns a gradient at the target size into exactly pixelsToTensor of its luma', async () => {
    const gradient = rgbImage(8, 8, (x, y) => [x * 30, y * 30, 255 - x * 30]);
    const png = new Uint8Array(await gradient.png().toBuffer());
    const raw = new Uint8Array(await gradient.raw().toBuffer());
    const s = spec();
    const tensor = await new ImagePreprocessor(s).tensor(png);
    expect(tensor).toEqual(pixelsToTensor(rgbToGrey(raw), s));
    expect(tensor[0]).toBeCloseTo(rgbToGrey(Uint8Array.from([0, 0, 255]))[0]! / 255, 6);
  });

  it('keeps a gradient monotonic through a stretch resize (RGB, NHWC, mean/std)', async () => {
    const png = new Uint8Array(
      await rgbImage(64, 32, (x) => [x * 4, x * 4, x * 4])
        .png()
        .toBuffer(),
    );
    const s = spec({ layout: 'NHWC', channels: 3, mean: [0.5], std: [0.5] });
    const tensor = await new ImagePreprocessor(s).tensor(png);
    expect(tensor).toHaveLength(8 * 8 * 3);
    const row = Array.from({ length: 8 }, (_, x) => tensor[(3 * 8 + x) * 3] ?? 0);
    for (let x = 1; x < 8; x++) expect(row[x]).toBeGreaterThan(row[x - 1] ?? 0);
    for (const v of tensor) expect(Math.abs(v)).toBeLessThanOrEqual(1);
  });

  it('letterboxes with padValue for contain, and crops the centre for cover', async () => {
    const white = new Uint8Array(
      await rgbImage(20, 10, () => [255, 255, 255])
        .png()
        .toBuffer(),
    );
    const contain = await new ImagePreprocessor(
      spec({ width: 10, height: 10, resize: 'contain', padValue: 40 }),
    ).pixels(white);
    expect(contain.subarray(0, 10).every((v) => v === 40)).toBe(true); // top pad row
    expect(contain.subarray(90, 100).every((v) => v === 40)).toBe(true); // bottom pad row
    expect(contain.subarray(50, 60).every((v) => v === 255)).toBe(true); // image row

    // Left half black, right half white: the centre 10×10 of 40×10 is half each.
    const halves = new Uint8Array(
      await rgbImage(40, 10, (x) => (x < 20 ? [0, 0, 0] : [255, 255, 255]))
        .png()
        .toBuffer(),
    );
    const cover = await new ImagePreprocessor(spec({ width: 10, height: 10, resize: 'cover' })).pixels(
      halves,
    );
    const row = Array.from(cover.subarray(50, 60));
    expect(row.slice(0, 4).every((v) => v < 10)).toBe(true);
    expect(row.slice(6).every((v) => v > 245)).toBe(true);
    // stretch squeezes the whole width in: black then white, no padding.
    const stretch = await new ImagePreprocessor(spec({ width: 10, height: 10, resize: 'stretch' })).pixels(
      halves,
    );
    expect(stretch[50]).toBeLessThan(10);
    expect(stretch[59]).toBeGreaterThan(245);
  });

  it('applies EXIF orientation before resizing', async () => {
    // Stored 20×10, left half black; orientation 6 means "rotate 90° clockwise to display", so the
    // displayed image is 10×20 with the black half on top.
    const jpeg = new Uint8Array(
      await rgbImage(20, 10, (x) => (x < 10 ? [0, 0, 0] : [255, 255, 255]))
        .jpeg({ quality: 95 })
        .withMetadata({ orientation: 6 })
        .toBuffer(),
    );
    expect((await sharp(jpeg).metadata()).orientation).toBe(6);
    const pixels = await new ImagePreprocessor(spec({ width: 10, height: 20 })).pixels(jpeg);
    expect(pixels[2 * 10 + 5]).toBeLessThan(40); // near the top: black
    expect(pixels[17 * 10 + 5]).toBeGreaterThan(215); // near the bottom: white
  });

  it('flattens alpha over black (as the cloud and web SDK do) and decodes WebP and raw frames', async () => {
    const rgba = new Uint8Array(4 * 4 * 4);
    for (let p = 0; p < 16; p++) rgba.set([200, 100, 50, p % 2 ? 0 : 255], p * 4);
    const png = new Uint8Array(
      await sharp(rgba, { raw: { width: 4, height: 4, channels: 4 } })
        .png()
        .toBuffer(),
    );
    expect((await sharp(png).metadata()).hasAlpha).toBe(true);
    const s = spec({ width: 4, height: 4, channels: 3 });
    const pixels = await new ImagePreprocessor(s).pixels(png);
    // Opaque pixels keep their colour; transparent ones become black, like sharp's flatten in training.
    const expected = Array.from({ length: 16 }, (_, p) => (p % 2 ? [0, 0, 0] : [200, 100, 50])).flat();
    expect(Array.from(pixels)).toEqual(expected);

    const webp = new Uint8Array(
      await sharp(rgba, { raw: { width: 4, height: 4, channels: 4 } })
        .webp({ lossless: true, exact: true })
        .toBuffer(),
    );
    expect(Array.from(await new ImagePreprocessor(s).pixels(webp))).toEqual(Array.from(pixels));
    const raw = await new ImagePreprocessor(s).pixels({ data: rgba, width: 4, height: 4, channels: 4 });
    expect(Array.from(raw)).toEqual(Array.from(pixels));
  });

  it('rejects corrupt and truncated images with VALIDATION_FAILED', async () => {
    const p = new ImagePreprocessor(spec());
    const garbage = Uint8Array.from({ length: 500 }, (_, i) => (i * 37) & 255);
    expect((await failure(p.tensor(garbage))).code).toBe('VALIDATION_FAILED');
    expect((await failure(p.tensor(new Uint8Array()))).message).toMatch(/empty/);
    const jpeg = new Uint8Array(
      await rgbImage(64, 64, (x, y) => [x * 4, y * 4, 0])
        .jpeg()
        .toBuffer(),
    );
    const truncated = await failure(p.tensor(jpeg.subarray(0, jpeg.length >> 1)));
    expect(truncated.code).toBe('VALIDATION_FAILED');
    expect(truncated.message).toMatch(/^cannot decode image.*JPEG/);
    expect(truncated.message).not.toMatch(/\n/);
  });

  it('rejects a huge declared size from the header alone, and oversized inputs by bytes', async () => {
    const bomb = pngDeclaring(100_000, 100_000);
    expect(bomb.length).toBeLessThan(100);
    const err = await failure(new ImagePreprocessor(spec()).tensor(bomb));
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.message).toMatch(/100000x100000 .* exceeds the limit of 24000000 pixels/);
    const small = new ImagePreprocessor(spec(), { maxInputBytes: 1000, maxInputPixels: 50 * 50 });
    const big = new Uint8Array(
      await rgbImage(64, 64, (x, y) => [x, y, (x * y) & 255])
        .png()
        .toBuffer(),
    );
    expect((await failure(small.tensor(big))).message).toMatch(/bytes exceeds the limit of 1000/);
    const pixels = new ImagePreprocessor(spec(), { maxInputPixels: 50 * 50 });
    expect((await failure(pixels.tensor(big))).message).toMatch(/64x64 \(4096 pixels\) exceeds/);
    expect(
      (await failure(pixels.tensor({ data: new Uint8Array(60 * 60), width: 60, height: 60, channels: 1 })))
        .code,
    ).toBe('VALIDATION_FAILED');
    expect(
      (await failure(pixels.tensor({ data: new Uint8Array(10), width: 4, height: 4, channels: 1 }))).message,
    ).toMatch(/expected 4x4x1/);
  });
});
