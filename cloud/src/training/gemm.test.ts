import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../datasets/random.ts';
import { gemm, gemmTransposedB, transpose } from './gemm.ts';

function randomMatrix(rows: number, cols: number, seed: number): Float32Array {
  const rng = mulberry32(seed);
  return Float32Array.from({ length: rows * cols }, () => rng() * 2 - 1);
}

/** Textbook triple loop in float64: the reference the blocked kernels must match. */
function reference(
  M: number,
  K: number,
  N: number,
  at: (i: number, k: number) => number,
  bt: (k: number, j: number) => number,
) {
  const C = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) for (let k = 0; k < K; k++) C[i * N + j]! += at(i, k) * bt(k, j);
  return C;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

// Shapes straddle the 4×4 tile: exact multiples, remainders in M, N and both, and degenerate sizes.
const SHAPES: [number, number, number][] = [
  [4, 4, 4],
  [8, 9, 12],
  [10, 7, 5],
  [3, 17, 6],
  [1, 1, 1],
  [13, 30, 11],
];

describe('gemm', () => {
  it.each(SHAPES)('C = A·B matches the reference for M=%i K=%i N=%i', (M, K, N) => {
    const A = randomMatrix(M, K, 1);
    const B = randomMatrix(K, N, 2);
    const C = new Float32Array(M * N).fill(Number.NaN); // must be overwritten, not accumulated into
    gemm(M, K, N, A, B, C);
    const expected = reference(
      M,
      K,
      N,
      (i, k) => A[i * K + k]!,
      (k, j) => B[k * N + j]!,
    );
    expect(maxAbsDiff(C, expected)).toBeLessThan(1e-5);
  });

  it.each(SHAPES)('C = A·Bᵀ matches the reference for M=%i K=%i N=%i', (M, K, N) => {
    const A = randomMatrix(M, K, 3);
    const B = randomMatrix(N, K, 4);
    const C = new Float32Array(M * N).fill(Number.NaN);
    gemmTransposedB(M, K, N, A, B, C);
    const expected = reference(
      M,
      K,
      N,
      (i, k) => A[i * K + k]!,
      (k, j) => B[j * K + k]!,
    );
    expect(maxAbsDiff(C, expected)).toBeLessThan(1e-5);
  });

  it('transposes a non-square matrix', () => {
    const src = Float32Array.from([1, 2, 3, 4, 5, 6]); // 2×3
    const dst = new Float32Array(6);
    transpose(2, 3, src, dst);
    expect([...dst]).toEqual([1, 4, 2, 5, 3, 6]);
  });
});
