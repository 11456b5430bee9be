import { describe, expect, it } from 'vitest';
import { CORRUPTION_KINDS, CORRUPTIONS, type CorruptionKind, corruptImages } from './corruptions.ts';
import type { ImageShape, LabelledImages } from './dataset.ts';
import { loadMnistDataset } from './mnist.ts';
import { mulberry32 } from './random.ts';

const digits = loadMnistDataset();
const grey: ImageShape = digits.shape;
const digit = digits.test.images.subarray(0, 784);
const SEVERITIES = [0, 0.25, 0.5, 0.75, 1];

/** A smooth RGB test card with values well inside 0..1, so clipping does not mask effects. */
const rgb: ImageShape = { channels: 3, height: 16, width: 20 };
const card = Float32Array.from(
  { length: 3 * 16 * 20 },
  (_, i) => 0.2 + 0.6 * (((i % 20) / 19 + Math.floor((i % 320) / 20) / 15 + Math.floor(i / 320) / 2) / 3),
);

function mean(values: Float32Array): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function variance(values: ArrayLike<number>): number {
  let mu = 0;
  for (let i = 0; i < values.length; i++) mu += (values[i] as number) / values.length;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += ((values[i] as number) - mu) ** 2;
  return sum / values.length;
}

/** Sharpness as the variance of the 4-neighbour Laplacian (the usual focus measure). */
function laplacianVariance(image: Float32Array, shape: ImageShape): number {
  const { height, width } = shape;
  const out: number[] = [];
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const at = (yy: number, xx: number) => image[yy * width + xx] as number;
      out.push(at(y - 1, x) + at(y + 1, x) + at(y, x - 1) + at(y, x + 1) - 4 * at(y, x));
    }
  }
  return variance(out);
}

function meanAbsDiff(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs((a[i] as number) - (b[i] as number));
  return sum / a.length;
}

function bySeverity(kind: CorruptionKind, image: Float32Array, shape: ImageShape, seed = 1): Float32Array[] {
  return SEVERITIES.map((s) => CORRUPTIONS[kind](image, shape, s, mulberry32(seed)));
}

function expectStrictlyIncreasing(values: number[]): void {
  for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThan(values[i - 1] as number);
}

describe.each(CORRUPTION_KINDS)('%s', (kind) => {
  it('is the identity at severity 0', () => {
    for (const [image, shape] of [
      [digit, grey],
      [card, rgb],
    ] as const) {
      expect(CORRUPTIONS[kind](image, shape, 0, mulberry32(1))).toEqual(Float32Array.from(image));
    }
  });

  it('keeps values in 0..1, leaves its input alone and repeats with the same seed', () => {
    const before = digit.slice();
    for (const severity of [0.3, 1]) {
      const a = CORRUPTIONS[kind](digit, grey, severity, mulberry32(9));
      expect(a.length).toBe(digit.length);
      expect(a.every((v) => v >= 0 && v <= 1)).toBe(true);
      expect(CORRUPTIONS[kind](digit, grey, severity, mulberry32(9))).toEqual(a);
      expect(meanAbsDiff(a, digit)).toBeGreaterThan(0);
    }
    expect(digit).toEqual(before);
  });

  it('moves further from the original as severity grows', () => {
    for (const [image, shape] of [
      [digit, grey],
      [card, rgb],
    ] as const) {
      expectStrictlyIncreasing(bySeverity(kind, image, shape).map((c) => meanAbsDiff(c, image)));
    }
  });

  it('rejects a severity outside 0..1', () => {
    for (const severity of [-0.1, 1.5, Number.NaN]) {
      expect(() => CORRUPTIONS[kind](digit, grey, severity, mulberry32(1))).toThrow(
        expect.objectContaining({ code: 'DATASET_INVALID_ARGUMENT' }),
      );
    }
  });
});

describe('what each corruption does', () => {
  it('brightness raises the mean', () => {
    expectStrictlyIncreasing(bySeverity('brightness', card, rgb).map(mean));
  });

  it('contrast shrinks the spread of each channel but keeps its mean', () => {
    const results = bySeverity('contrast', card, rgb);
    expectStrictlyIncreasing(results.map((r) => -variance(r.subarray(0, 320))));
    for (const r of results) expect(mean(r.subarray(320, 640))).toBeCloseTo(mean(card.subarray(320, 640)), 5);
  });

  it('blur lowers the variance of the Laplacian', () => {
    expectStrictlyIncreasing(bySeverity('blur', digit, grey).map((b) => -laplacianVariance(b, grey)));
  });

  it('noise adds roughly gaussian noise whose spread grows with severity', () => {
    const flat = new Float32Array(64 * 64).fill(0.5);
    const shape = { channels: 1, height: 64, width: 64 };
    const spreads = bySeverity('noise', flat, shape).map((n) => Math.sqrt(variance(n)));
    expectStrictlyIncreasing(spreads);
    expect(spreads[1]).toBeCloseTo(0.1, 2); // severity 0.25 of a 0.4 maximum sigma
    expect(CORRUPTIONS.noise(flat, shape, 0.5, mulberry32(2))).not.toEqual(
      CORRUPTIONS.noise(flat, shape, 0.5, mulberry32(3)),
    );
  });

  it('rotation turns content about the centre by up to 45 degrees', () => {
    const shape = { channels: 1, height: 41, width: 41 };
    const dot = new Float32Array(41 * 41);
    dot[20 * 41 + 35] = 1; // 15 px right of the centre
    for (const severity of [0.5, 1]) {
      const rotated = CORRUPTIONS.rotation(dot, shape, severity, mulberry32(4));
      let sx = 0;
      let sy = 0;
      let total = 0;
      rotated.forEach((v, i) => {
        sx += v * ((i % 41) - 20);
        sy += v * (Math.floor(i / 41) - 20);
        total += v;
      });
      const degrees = (Math.atan2(sy / total, sx / total) * 180) / Math.PI;
      expect(Math.abs(degrees)).toBeCloseTo(45 * severity, 0);
    }
  });

  it('occlusion covers a grey rectangle of up to half the image, placed by the seed', () => {
    const shape = { channels: 1, height: 32, width: 32 };
    const black = new Float32Array(32 * 32);
    const covered = SEVERITIES.map((s) =>
      CORRUPTIONS.occlusion(black, shape, s, mulberry32(5)).reduce((n, v) => n + (v === 0.5 ? 1 : 0), 0),
    );
    expectStrictlyIncreasing(covered);
    expect(covered[4]).toBeGreaterThan(0.4 * 1024);
    expect(covered[4]).toBeLessThan(0.6 * 1024);
    const a = CORRUPTIONS.occlusion(black, shape, 0.3, mulberry32(5));
    expect(CORRUPTIONS.occlusion(black, shape, 0.3, mulberry32(6))).not.toEqual(a);
  });
});

describe('corruptImages', () => {
  const split: LabelledImages = {
    count: 50,
    images: digits.test.images.slice(0, 50 * 784),
    labels: digits.test.labels.slice(0, 50),
  };

  function changed(result: LabelledImages): number[] {
    const indices: number[] = [];
    for (let i = 0; i < result.count; i++) {
      if (
        meanAbsDiff(
          result.images.subarray(i * 784, (i + 1) * 784),
          split.images.subarray(i * 784, (i + 1) * 784),
        ) > 0
      ) {
        indices.push(i);
      }
    }
    return indices;
  }

  it('corrupts the chosen fraction of images, reproducibly, keeping labels', () => {
    const opts = { kind: 'noise' as const, severity: 0.5, seed: 11, fraction: 0.4 };
    const a = corruptImages(split, grey, opts);
    expect(a.count).toBe(50);
    expect(a.labels).toEqual(split.labels);
    expect(changed(a)).toHaveLength(20);
    expect(corruptImages(split, grey, opts)).toEqual(a);
    expect(changed(corruptImages(split, grey, { ...opts, seed: 12 }))).not.toEqual(changed(a));
  });

  it('corrupts every image by default and none at severity 0, without touching the input', () => {
    const before = split.images.slice();
    expect(changed(corruptImages(split, grey, { kind: 'blur', severity: 0.6, seed: 1 }))).toHaveLength(50);
    expect(corruptImages(split, grey, { kind: 'blur', severity: 0, seed: 1 }).images).toEqual(split.images);
    expect(split.images).toEqual(before);
  });

  it('rejects unknown kinds and bad fractions', () => {
    expect(() =>
      corruptImages(split, grey, { kind: 'fog' as CorruptionKind, severity: 0.5, seed: 1 }),
    ).toThrow(/fog/);
    expect(() => corruptImages(split, grey, { kind: 'noise', severity: 0.5, seed: 1, fraction: 2 })).toThrow(
      /fraction/,
    );
  });
});
