import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DatasetError } from './errors.ts';
import { mulberry32 } from './random.ts';
import { SPLIT_NAMES, splitPlanFromFractions, stratifiedSplit } from './split.ts';

function countByClass(labels: Uint8Array, indices: Uint32Array, classCount: number): number[] {
  const counts = new Array(classCount).fill(0);
  for (const i of indices) counts[labels[i] as number]++;
  return counts;
}

describe('stratifiedSplit', () => {
  it('meets the plan exactly, uses every image once and keeps class proportions', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 300 }),
        fc.double({ min: 0, max: 0.45, noNaN: true }),
        fc.double({ min: 0, max: 0.45, noNaN: true }),
        fc.integer(),
        (labelList, validation, test, seed) => {
          const labels = Uint8Array.from(labelList);
          const plan = splitPlanFromFractions(labels.length, { validation, test });
          const split = stratifiedSplit(labels, 5, plan, mulberry32(seed));
          const all = SPLIT_NAMES.flatMap((s) => [...split[s]]).sort((a, b) => a - b);
          expect(all).toEqual(labelList.map((_, i) => i));
          for (const s of SPLIT_NAMES) {
            expect(split[s].length).toBe(plan[s]);
            const perClass = countByClass(labels, split[s], 5);
            perClass.forEach((n, c) => {
              const classSize = labelList.filter((l) => l === c).length;
              const quota = (plan[s] * classSize) / labels.length;
              // Whole images cannot hit a fractional quota; within one image is the promise.
              expect(Math.abs(n - quota)).toBeLessThan(1);
            });
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('is reproducible for a seed and changes with the seed', () => {
    const labels = Uint8Array.from({ length: 200 }, (_, i) => i % 4);
    const plan = { train: 140, validation: 20, test: 40 };
    const a = stratifiedSplit(labels, 4, plan, mulberry32(1));
    expect(stratifiedSplit(labels, 4, plan, mulberry32(1))).toEqual(a);
    expect(stratifiedSplit(labels, 4, plan, mulberry32(2)).train).not.toEqual(a.train);
  });

  it('interleaves classes within a split rather than grouping them', () => {
    const labels = Uint8Array.from({ length: 100 }, (_, i) => (i < 50 ? 0 : 1));
    const { train } = stratifiedSplit(labels, 2, { train: 100, validation: 0, test: 0 }, mulberry32(5));
    const firstHalf = countByClass(labels, train.subarray(0, 50), 2);
    expect(firstHalf[0]).toBeGreaterThan(10);
    expect(firstHalf[1]).toBeGreaterThan(10);
  });

  it('rejects a plan that does not add up and labels beyond the classes', () => {
    const labels = Uint8Array.from([0, 1, 0, 1]);
    expect(() => stratifiedSplit(labels, 2, { train: 3, validation: 0, test: 0 }, mulberry32(1))).toThrow(
      DatasetError,
    );
    expect(() => stratifiedSplit(labels, 1, { train: 4, validation: 0, test: 0 }, mulberry32(1))).toThrow(
      /label 1 is outside 1 classes/,
    );
  });
});

describe('splitPlanFromFractions', () => {
  it('rounds held-out splits and gives train the rest', () => {
    expect(splitPlanFromFractions(10_000, { validation: 0.1, test: 0.2 })).toEqual({
      train: 7000,
      validation: 1000,
      test: 2000,
    });
    expect(splitPlanFromFractions(7, { validation: 0.1, test: 0.2 })).toEqual({
      train: 5,
      validation: 1,
      test: 1,
    });
  });

  it('refuses fractions that leave nothing for train', () => {
    expect(() => splitPlanFromFractions(10, { validation: 0.5, test: 0.5 })).toThrow(
      expect.objectContaining({ code: 'DATASET_INVALID_ARGUMENT' }),
    );
    expect(() => splitPlanFromFractions(10, { validation: -0.1, test: 0.2 })).toThrow(DatasetError);
  });
});
