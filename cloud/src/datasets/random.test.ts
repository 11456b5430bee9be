import { describe, expect, it } from 'vitest';
import { gaussian, mulberry32, shuffleInPlace } from './random.ts';

describe('mulberry32', () => {
  it('repeats its sequence for a seed and differs between seeds', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const seqA = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(seqA);
    expect(Array.from({ length: 5 }, c)).not.toEqual(seqA);
  });

  it('draws uniformly in [0, 1)', () => {
    const rng = mulberry32(1);
    const buckets = new Array(10).fill(0);
    let min = 1;
    let max = 0;
    for (let i = 0; i < 100_000; i++) {
      const v = rng();
      min = Math.min(min, v);
      max = Math.max(max, v);
      buckets[Math.floor(v * 10)]++;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    for (const n of buckets) expect(Math.abs(n - 10_000)).toBeLessThan(500);
  });
});

describe('gaussian', () => {
  it('has mean 0 and standard deviation 1', () => {
    const rng = mulberry32(7);
    const draws = Array.from({ length: 50_000 }, () => gaussian(rng));
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
    const variance = draws.reduce((a, b) => a + (b - mean) ** 2, 0) / draws.length;
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(Math.sqrt(variance) - 1)).toBeLessThan(0.02);
    expect(draws.every(Number.isFinite)).toBe(true);
  });
});

describe('shuffleInPlace', () => {
  it('permutes without losing or duplicating items, reproducibly', () => {
    const items = Uint32Array.from({ length: 100 }, (_, i) => i);
    const once = shuffleInPlace(items.slice(), mulberry32(3));
    expect(once).not.toEqual(items);
    expect([...once].sort((a, b) => a - b)).toEqual([...items]);
    expect(shuffleInPlace(items.slice(), mulberry32(3))).toEqual(once);
  });
});
