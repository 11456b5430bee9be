// Before a new model is activated, the device runs the golden inputs the registry recorded and
// compares outputs. It catches a runtime that computes differently from the cloud's (a kernel bug,
// a quantization path the device's onnxruntime handles differently) before users see it.
import { base64Decode, EdgeloopError, type GoldenSet } from '@edgeloop/shared';
import type { ModelSession } from './inference.ts';

export interface GoldenReport {
  cases: number;
  /** Largest absolute difference seen over all cases and values. */
  maxAbsDiff: number;
  worstCase: number;
}

function floats(base64: string): Float32Array {
  const bytes = base64Decode(base64);
  if (bytes.length % 4 !== 0) throw new RangeError(`${bytes.length} bytes is not a whole number of float32s`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Float32Array.from({ length: bytes.length / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

/** Throws GOLDEN_CHECK_FAILED (with the worst difference) when any value differs by more than the tolerance. */
export async function runGoldenCheck(session: ModelSession, golden: GoldenSet): Promise<GoldenReport> {
  let maxAbsDiff = 0;
  let worstCase = 0;
  for (const [index, goldenCase] of golden.cases.entries()) {
    let input: Float32Array;
    let expected: Float32Array;
    try {
      input = floats(goldenCase.input);
      expected = floats(goldenCase.expected);
    } catch (err) {
      throw new EdgeloopError(
        'MODEL_INVALID',
        `golden case ${index} is malformed: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    const { outputs } = await session.runOutputs(input, 1);
    const actual = outputs[golden.output];
    if (!actual || actual.length !== expected.length) {
      throw new EdgeloopError(
        'GOLDEN_CHECK_FAILED',
        `golden case ${index}: output ${golden.output} has ${actual?.length ?? 0} values, expected ${expected.length}`,
        { details: { case: index } },
      );
    }
    for (let i = 0; i < expected.length; i++) {
      // NaN never equals anything: treat it as an infinite difference.
      const diff = Math.abs((actual[i] ?? 0) - (expected[i] ?? 0));
      const d = Number.isNaN(diff) ? Number.POSITIVE_INFINITY : diff;
      if (d > maxAbsDiff) {
        maxAbsDiff = d;
        worstCase = index;
      }
    }
  }
  if (maxAbsDiff > golden.tolerance) {
    throw new EdgeloopError(
      'GOLDEN_CHECK_FAILED',
      `golden output ${golden.output} differs by ${maxAbsDiff} in case ${worstCase} (tolerance ${golden.tolerance})`,
      { details: { maxAbsDiff, worstCase, tolerance: golden.tolerance } },
    );
  }
  return { cases: golden.cases.length, maxAbsDiff, worstCase };
}
