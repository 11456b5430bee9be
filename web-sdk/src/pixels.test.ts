import { preprocessingSpecSchema, rgbToGrey } from '@edgeloop/shared';
import { describe, expect, it } from 'vitest';
import { rgbaOverBlack, rgbaToTensor } from './pixels.ts';
import { fitToSpec, lanczosResize } from './resample.ts';

describe('pixels', () => {
  it('greyscale matches what sharp produces for pure colours (measured with sharp 0.35)', () => {
    // [r, g, b] → sharp toColourspace('b-w')
    const measured: [number, number, number, number][] = [
      [255, 0, 0, 127],
      [0, 255, 0, 220],
      [0, 0, 255, 76],
      [128, 128, 128, 128],
      [255, 255, 0, 247],
      [100, 50, 200, 85],
      [10, 20, 30, 19],
      [200, 100, 50, 128],
    ];
    const grey = rgbToGrey(Uint8Array.from(measured.flatMap((m) => m.slice(0, 3))));
    expect(Array.from(grey)).toEqual(measured.map((m) => m[3]));
  });

  it('flattens straight alpha over black', () => {
    expect(Array.from(rgbaOverBlack(Uint8ClampedArray.of(255, 100, 0, 128, 9, 9, 9, 255)))).toEqual([
      128, 50, 0, 9, 9, 9,
    ]);
  });

  it('keeps flat images flat through resizing (weights sum to one, no ringing)', () => {
    const flat = { data: new Uint8Array(37 * 23 * 3).fill(77), width: 37, height: 23, channels: 3 };
    for (const [w, h] of [
      [5, 4],
      [80, 60],
      [37, 23],
    ] as const) {
      expect(new Set(lanczosResize(flat, w, h).data)).toEqual(new Set([77]));
    }
  });

  it('letterboxes (contain) and centre-crops (cover) like sharp', () => {
    // 4×2 white image into 4×4: contain scales to 4×2 and pads rows 0 and 3 (top = (4-2)/2 = 1).
    const wide = { data: new Uint8Array(4 * 2 * 1).fill(255), width: 4, height: 2, channels: 1 };
    const contain = fitToSpec(wide, { width: 4, height: 4, resize: 'contain', padValue: 10 });
    expect(Array.from(contain.data)).toEqual([
      ...Array(4).fill(10),
      ...Array(8).fill(255),
      ...Array(4).fill(10),
    ]);
    // 6×2 image with distinct columns into 2×2 cover: no scaling, crop from left = (6-2+1)/2 = 2.
    const cols = {
      data: Uint8Array.from([0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5]),
      width: 6,
      height: 2,
      channels: 1,
    };
    const cover = fitToSpec(cols, { width: 2, height: 2, resize: 'cover', padValue: 0 });
    expect(Array.from(cover.data)).toEqual([2, 3, 2, 3]);
  });

  it('produces the spec layout and normalisation', () => {
    const spec = preprocessingSpecSchema.parse({
      layout: 'NCHW',
      channels: 3,
      height: 1,
      width: 2,
      mean: [0.5],
    });
    const tensor = rgbaToTensor(Uint8ClampedArray.of(255, 0, 0, 255, 0, 255, 0, 255), 2, 1, spec);
    expect(Array.from(tensor)).toEqual([0.5, -0.5, -0.5, 0.5, -0.5, -0.5]);
    expect(() => rgbaToTensor(new Uint8ClampedArray(7), 2, 1, spec)).toThrow(RangeError);
  });
});
