import { DatasetError } from './errors.ts';
import { type Rng, shuffleInPlace } from './random.ts';

export const SPLIT_NAMES = ['train', 'validation', 'test'] as const;
export type SplitName = (typeof SPLIT_NAMES)[number];

/** Exact image counts per split; they sum to the number of images being split. */
export type SplitPlan = Record<SplitName, number>;

/** Turns held-out fractions into exact counts; train takes the rest. */
export function splitPlanFromFractions(
  total: number,
  fractions: { validation: number; test: number },
): SplitPlan {
  const { validation, test } = fractions;
  const valid = (f: number) => Number.isFinite(f) && f >= 0 && f < 1;
  if (!valid(validation) || !valid(test) || validation + test >= 1) {
    throw new DatasetError(
      'DATASET_INVALID_ARGUMENT',
      `split fractions must be in [0, 1) and leave room for train, got validation=${validation} test=${test}`,
    );
  }
  const validationCount = Math.round(total * validation);
  const testCount = Math.round(total * test);
  return { train: total - validationCount - testCount, validation: validationCount, test: testCount };
}

/**
 * Deterministic stratified split: every class is spread over the splits in proportion to the plan
 * (within one image), the split totals match the plan exactly, and which image lands where depends
 * only on the labels, the plan and the rng. Returns indices into `labels`, each split shuffled so
 * classes interleave.
 */
export function stratifiedSplit(
  labels: Uint8Array,
  classCount: number,
  plan: SplitPlan,
  rng: Rng,
): Record<SplitName, Uint32Array> {
  const total = labels.length;
  const planned = SPLIT_NAMES.map((s) => plan[s]);
  if (planned.some((n) => !Number.isInteger(n) || n < 0) || planned.reduce((a, b) => a + b, 0) !== total) {
    throw new DatasetError(
      'DATASET_INVALID_ARGUMENT',
      `split plan ${JSON.stringify(plan)} must be non-negative integers summing to ${total} images`,
    );
  }
  const byClass = indicesByClass(labels, classCount).map((members) => shuffleInPlace(members, rng));
  const allocation = allocate(
    byClass.map((members) => members.length),
    planned,
  );

  const out = SPLIT_NAMES.map((_, s) => new Uint32Array(planned[s] as number));
  const filled = SPLIT_NAMES.map(() => 0);
  byClass.forEach((members, c) => {
    let next = 0;
    SPLIT_NAMES.forEach((_, s) => {
      const take = allocation[c]?.[s] as number;
      (out[s] as Uint32Array).set(members.subarray(next, next + take), filled[s]);
      filled[s] = (filled[s] as number) + take;
      next += take;
    });
  });
  for (const indices of out) shuffleInPlace(indices, rng);
  return { train: out[0] as Uint32Array, validation: out[1] as Uint32Array, test: out[2] as Uint32Array };
}

function indicesByClass(labels: Uint8Array, classCount: number): Uint32Array[] {
  const counts = new Uint32Array(classCount);
  for (const label of labels) {
    if (label >= classCount) {
      throw new DatasetError('DATASET_INVALID_ARGUMENT', `label ${label} is outside ${classCount} classes`);
    }
    counts[label] = (counts[label] as number) + 1;
  }
  const groups = Array.from(counts, (n) => new Uint32Array(n));
  const fill = new Uint32Array(classCount);
  labels.forEach((label, i) => {
    (groups[label] as Uint32Array)[fill[label] as number] = i;
    fill[label] = (fill[label] as number) + 1;
  });
  return groups;
}

/**
 * Integer matrix [class][split] whose rows sum to the class sizes and columns to the split sizes,
 * close to the proportional quota. Rounds each row by largest remainder, then moves single images
 * between splits inside the class where rounding cost least until the column totals match.
 */
function allocate(classSizes: number[], splitSizes: number[]): number[][] {
  const total = classSizes.reduce((a, b) => a + b, 0);
  const quota = classSizes.map((n) => splitSizes.map((size) => (total === 0 ? 0 : (size * n) / total)));
  const alloc = quota.map((row, c) => roundRow(row, classSizes[c] as number));

  const excess = splitSizes.map((size, s) => alloc.reduce((sum, row) => sum + (row[s] as number), 0) - size);
  for (;;) {
    const from = excess.findIndex((e) => e > 0);
    const to = excess.findIndex((e) => e < 0);
    if (from < 0 || to < 0) break;
    let best = -1;
    let bestScore = Number.NEGATIVE_INFINITY;
    alloc.forEach((row, c) => {
      if ((row[from] as number) <= 0) return;
      const q = quota[c] as number[];
      // How far over quota `from` is plus how far under quota `to` is: the move that helps most.
      const score = (row[from] as number) - (q[from] as number) + (q[to] as number) - (row[to] as number);
      if (score > bestScore) {
        bestScore = score;
        best = c;
      }
    });
    const row = alloc[best] as number[];
    row[from] = (row[from] as number) - 1;
    row[to] = (row[to] as number) + 1;
    excess[from] = (excess[from] as number) - 1;
    excess[to] = (excess[to] as number) + 1;
  }
  return alloc;
}

function roundRow(quota: number[], size: number): number[] {
  const floors = quota.map(Math.floor);
  let left = size - floors.reduce((a, b) => a + b, 0);
  const byRemainder = quota
    .map((q, s) => ({ s, r: q - Math.floor(q) }))
    .sort((a, b) => b.r - a.r || a.s - b.s);
  for (const { s } of byRemainder) {
    if (left <= 0) break;
    floors[s] = (floors[s] as number) + 1;
    left--;
  }
  return floors;
}
