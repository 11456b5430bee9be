import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SPLIT_NAMES } from './dataset.ts';
import { loadMnistDataset, MNIST_SPLIT } from './mnist.ts';

const PIXELS = 28 * 28;

function imageDigests(images: Float32Array, count: number): string[] {
  return Array.from({ length: count }, (_, i) =>
    createHash('sha1')
      .update(images.subarray(i * PIXELS, (i + 1) * PIXELS))
      .digest('hex'),
  );
}

describe('loadMnistDataset', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('splits the 10,000 digits 7,000 / 1,000 / 2,000 with 28x28 grey images in 0..1', () => {
    const digits = loadMnistDataset();
    expect(digits.name).toBe('mnist-digits');
    expect(digits.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(digits.shape).toEqual({ channels: 1, height: 28, width: 28 });
    expect(digits.source).toEqual({ kind: 'mnist' });
    for (const split of SPLIT_NAMES) {
      expect(digits[split].count).toBe(MNIST_SPLIT[split]);
      expect(digits[split].images.length).toBe(MNIST_SPLIT[split] * PIXELS);
      expect(digits[split].labels.length).toBe(MNIST_SPLIT[split]);
      let min = 1;
      let max = 0;
      for (const v of digits[split].images) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
      expect(min).toBe(0);
      expect(max).toBeLessThanOrEqual(1);
      expect(max).toBeGreaterThan(0.9);
    }
  });

  it('stratifies: each class holds 70 / 10 / 20 percent of its digits, within one', () => {
    const digits = loadMnistDataset();
    const perSplit = SPLIT_NAMES.map((split) => {
      const counts = new Array(10).fill(0);
      for (const label of digits[split].labels) counts[label]++;
      return counts;
    });
    for (let digit = 0; digit < 10; digit++) {
      const classSize = perSplit.reduce((sum, counts) => sum + counts[digit], 0);
      SPLIT_NAMES.forEach((split, s) => {
        const quota = (MNIST_SPLIT[split] * classSize) / 10_000;
        expect(Math.abs(perSplit[s]?.[digit] - quota)).toBeLessThan(1);
      });
    }
  });

  it('uses every digit exactly once across the splits', () => {
    const digits = loadMnistDataset();
    const all = SPLIT_NAMES.flatMap((split) => imageDigests(digits[split].images, digits[split].count));
    // The oracle: the package's own files, read independently of the loader.
    const require = createRequire(import.meta.url);
    const raw = Array.from({ length: 10 }, (_, digit) => {
      const file = require.resolve(`mnist/src/digits/${digit}.json`);
      const values = Float32Array.from(JSON.parse(readFileSync(file, 'utf8')).data as number[]);
      return imageDigests(values, values.length / PIXELS);
    }).flat();
    expect(all.length).toBe(10_000);
    expect(all.sort()).toEqual(raw.sort());
  });

  it('is deterministic per seed, cached in-process, and never uses Math.random', () => {
    const random = vi.spyOn(Math, 'random');
    const a = loadMnistDataset({ seed: 123 });
    expect(random).not.toHaveBeenCalled();
    expect(loadMnistDataset({ seed: 123 })).toBe(a);
    expect(a.version).toMatch(/^[0-9a-f]{16}$/);
    expect(loadMnistDataset().version).not.toBe(a.version);
    expect(loadMnistDataset({ seed: 42 })).toBe(loadMnistDataset());
  });
});
