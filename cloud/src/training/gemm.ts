/**
 * Dense matrix products over row-major Float32Arrays, the one hot loop of the trainer.
 *
 * V8 does not vectorise, so speed comes from register blocking: each 4×4 tile of C lives in 16
 * locals while the contraction runs, costing 8 loads per 16 multiply-adds instead of 2 loads and a
 * store per multiply-add for the textbook i-k-j loop. Measured here (`bench/train.ts --gemm`, one
 * core): i-k-j ≈ 0.4–0.55 GMAC/s, 4×4 blocked ≈ 2.0–2.1 GMAC/s. Also tried during development:
 * packing B into 4-column panels (same speed), other tiles (2×4, 3×4, 4×3, 2×8, 4×8: 1.6–2.2 GMAC/s,
 * within the machine's noise) and Float64Array storage (1.2–1.7). Plain JS tops out near 2 GMAC/s;
 * WebAssembly SIMD is the next step if training has to get faster.
 */

/** C[M×N] = A[M×K] · B[K×N]; C is overwritten. */
// biome-ignore format: the register tile reads best as a 4×4 grid
export function gemm(
  M: number,
  K: number,
  N: number,
  A: Float32Array,
  B: Float32Array,
  C: Float32Array,
): void {
  const M4 = M - (M % 4);
  const N4 = N - (N % 4);
  for (let i = 0; i < M4; i += 4) {
    const a0 = i * K;
    const a1 = a0 + K;
    const a2 = a1 + K;
    const a3 = a2 + K;
    for (let j = 0; j < N4; j += 4) {
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
      let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
      let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      let bp = j;
      for (let k = 0; k < K; k++, bp += N) {
        const b0 = B[bp]!, b1 = B[bp + 1]!, b2 = B[bp + 2]!, b3 = B[bp + 3]!;
        const x0 = A[a0 + k]!, x1 = A[a1 + k]!, x2 = A[a2 + k]!, x3 = A[a3 + k]!;
        c00 += x0 * b0; c01 += x0 * b1; c02 += x0 * b2; c03 += x0 * b3;
        c10 += x1 * b0; c11 += x1 * b1; c12 += x1 * b2; c13 += x1 * b3;
        c20 += x2 * b0; c21 += x2 * b1; c22 += x2 * b2; c23 += x2 * b3;
        c30 += x3 * b0; c31 += x3 * b1; c32 += x3 * b2; c33 += x3 * b3;
      }
      let o = i * N + j;
      C[o] = c00; C[o + 1] = c01; C[o + 2] = c02; C[o + 3] = c03;
      o += N;
      C[o] = c10; C[o + 1] = c11; C[o + 2] = c12; C[o + 3] = c13;
      o += N;
      C[o] = c20; C[o + 1] = c21; C[o + 2] = c22; C[o + 3] = c23;
      o += N;
      C[o] = c30; C[o + 1] = c31; C[o + 2] = c32; C[o + 3] = c33;
    }
    // Columns left over when N is not a multiple of 4.
    for (let j = N4; j < N; j++) {
      for (let r = 0; r < 4; r++) {
        const ar = (i + r) * K;
        let s = 0;
        for (let k = 0, bp = j; k < K; k++, bp += N) s += A[ar + k]! * B[bp]!;
        C[(i + r) * N + j] = s;
      }
    }
  }
  // Rows left over when M is not a multiple of 4 (e.g. 10 output classes): one row at a time, i-k-j.
  for (let i = M4; i < M; i++) {
    const ci = i * N;
    C.fill(0, ci, ci + N);
    for (let k = 0; k < K; k++) {
      const a = A[i * K + k]!;
      if (a === 0) continue;
      const bk = k * N;
      for (let j = 0; j < N; j++) C[ci + j]! += a * B[bk + j]!;
    }
  }
}

/**
 * C[M×N] = A[M×K] · B[N×K]ᵀ; C is overwritten. Both operands are read along their rows, which is
 * what weight gradients need (dW = dY · Xᵀ, contracting over the long batch×pixels axis).
 */
// biome-ignore format: the register tile reads best as a 4×4 grid
export function gemmTransposedB(
  M: number,
  K: number,
  N: number,
  A: Float32Array,
  B: Float32Array,
  C: Float32Array,
): void {
  const M4 = M - (M % 4);
  const N4 = N - (N % 4);
  for (let i = 0; i < M4; i += 4) {
    const a0 = i * K;
    const a1 = a0 + K;
    const a2 = a1 + K;
    const a3 = a2 + K;
    for (let j = 0; j < N4; j += 4) {
      const b0 = j * K;
      const b1 = b0 + K;
      const b2 = b1 + K;
      const b3 = b2 + K;
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
      let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
      let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let k = 0; k < K; k++) {
        const y0 = B[b0 + k]!, y1 = B[b1 + k]!, y2 = B[b2 + k]!, y3 = B[b3 + k]!;
        const x0 = A[a0 + k]!, x1 = A[a1 + k]!, x2 = A[a2 + k]!, x3 = A[a3 + k]!;
        c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3;
        c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3;
        c20 += x2 * y0; c21 += x2 * y1; c22 += x2 * y2; c23 += x2 * y3;
        c30 += x3 * y0; c31 += x3 * y1; c32 += x3 * y2; c33 += x3 * y3;
      }
      let o = i * N + j;
      C[o] = c00; C[o + 1] = c01; C[o + 2] = c02; C[o + 3] = c03;
      o += N;
      C[o] = c10; C[o + 1] = c11; C[o + 2] = c12; C[o + 3] = c13;
      o += N;
      C[o] = c20; C[o + 1] = c21; C[o + 2] = c22; C[o + 3] = c23;
      o += N;
      C[o] = c30; C[o + 1] = c31; C[o + 2] = c32; C[o + 3] = c33;
    }
    for (let j = N4; j < N; j++) {
      for (let r = 0; r < 4; r++) C[(i + r) * N + j] = dot(A, (i + r) * K, B, j * K, K);
    }
  }
  for (let i = M4; i < M; i++) {
    for (let j = 0; j < N; j++) C[i * N + j] = dot(A, i * K, B, j * K, K);
  }
}

function dot(A: Float32Array, a: number, B: Float32Array, b: number, K: number): number {
  let s0 = 0;
  let s1 = 0;
  let k = 0;
  for (; k + 1 < K; k += 2) {
    s0 += A[a + k]! * B[b + k]!;
    s1 += A[a + k + 1]! * B[b + k + 1]!;
  }
  if (k < K) s0 += A[a + k]! * B[b + k]!;
  return s0 + s1;
}

/** dst[cols×rows] = src[rows×cols]ᵀ. */
export function transpose(rows: number, cols: number, src: Float32Array, dst: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const s = r * cols;
    for (let c = 0; c < cols; c++) dst[c * rows + r] = src[s + c]!;
  }
}
