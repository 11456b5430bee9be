import { preprocessingSpecSchema } from '@edgeloop/shared';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { imageGeometry, tensorPixels, tensorPng } from './preview.ts';

const floats = (values: number[]) => {
  const bytes = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => {
    bytes.writeFloatLE(v, i * 4);
  });
  return new Uint8Array(bytes);
};

describe('sample preview', () => {
  it('reads CHW, HWC and H×W shapes, and a flat tensor through the model spec', () => {
    expect(imageGeometry([1, 3, 4, 5])).toEqual({ channels: 3, height: 4, width: 5, layout: 'CHW' });
    expect(imageGeometry([4, 5, 3])).toEqual({ channels: 3, height: 4, width: 5, layout: 'HWC' });
    expect(imageGeometry([28, 28])).toEqual({ channels: 1, height: 28, width: 28, layout: 'CHW' });
    expect(imageGeometry([784])).toBeUndefined();
    expect(imageGeometry([2, 3, 4, 5])).toBeUndefined();
    const spec = preprocessingSpecSchema.parse({ layout: 'NHWC', channels: 1, height: 28, width: 28 });
    expect(imageGeometry([1, 784], spec)).toEqual({ channels: 1, height: 28, width: 28, layout: 'HWC' });
  });

  it('stretches an image to its own range without a spec, and interleaves channels', () => {
    // CHW, 3 channels of 1×2: red ramps up, green down, blue constant.
    const pixels = tensorPixels(Float32Array.from([-1, 1, 1, -1, 0, 0]), {
      channels: 3,
      height: 1,
      width: 2,
      layout: 'CHW',
    });
    expect([...pixels]).toEqual([0, 255, 128, 255, 0, 128]);
  });

  it('undoes an inverted normalisation exactly', () => {
    const spec = preprocessingSpecSchema.parse({
      layout: 'NCHW',
      channels: 1,
      height: 1,
      width: 3,
      mean: [0.5],
      std: [0.25],
      invert: true,
    });
    const source = [0, 100, 255];
    const tensor = source.map((p) => (1 - p / 255 - 0.5) / 0.25);
    expect([
      ...tensorPixels(Float32Array.from(tensor), imageGeometry([1, 1, 1, 3], spec) as never, spec),
    ]).toEqual(source);
  });

  it('encodes a PNG, enlarged with nearest-neighbour, and refuses a tensor that is no image', async () => {
    const png = await tensorPng(floats([0, 1, 1, 0]), [2, 2], { scale: 2 });
    const meta = await sharp(png).metadata();
    expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(['png', 4, 4, 1]);
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    const firstRow = [0, 1, 2, 3].map((x) => data[x * info.channels]);
    expect(firstRow).toEqual([0, 0, 255, 255]);
    await expect(tensorPng(floats([1, 2, 3]), [3])).rejects.toThrow(/shape \[3\] is not an image/);
  });
});
