import * as z from 'zod';
import { seededUniform } from './random.ts';

/** Which fixed random projection turns an embedding into a few drift features. */
export const projectionSpecSchema = z.object({
  /** uint32 seed of the matrix; stored in the reference profile so devices build the same one. */
  seed: z.number().int().min(0).max(0xffffffff),
  /** Output dimensions: a handful keeps the window small and each stays ~normal. */
  dims: z.number().int().min(1).max(16),
});
export type ProjectionSpec = z.infer<typeof projectionSpecSchema>;

const SQRT3 = Math.sqrt(3);

/**
 * A fixed sparse random projection (Achlioptas 2003): entries √3·{+1, 0, −1} with probabilities
 * 1/6, 2/3, 1/6, scaled by 1/√dims, so distances are preserved in expectation and two thirds of the
 * multiplications vanish. Entry (i, j) is drawn in row-major order from `seededUniform(seed)`,
 * so the cloud, the agent and the browser derive the same matrix from the seed alone.
 *
 * @example
 * const project = new EmbeddingProjection({ seed: 7, dims: 4 }, 32);
 * project.apply(embedding); // Float64Array(4)
 */
export class EmbeddingProjection {
  /** Non-zero entries per output dimension as (embedding index, signed weight). */
  private readonly rows: Array<{ index: Int32Array; weight: Float64Array }> = [];

  constructor(
    readonly spec: ProjectionSpec,
    readonly inputSize: number,
  ) {
    if (!Number.isInteger(inputSize) || inputSize < 1) throw new RangeError('embedding size must be ≥ 1');
    const next = seededUniform(spec.seed);
    const scale = SQRT3 / Math.sqrt(spec.dims);
    for (let i = 0; i < spec.dims; i++) {
      const index: number[] = [];
      const weight: number[] = [];
      for (let j = 0; j < inputSize; j++) {
        const u = next();
        if (u < 1 / 6) {
          index.push(j);
          weight.push(scale);
        } else if (u >= 5 / 6) {
          index.push(j);
          weight.push(-scale);
        }
      }
      this.rows.push({ index: Int32Array.from(index), weight: Float64Array.from(weight) });
    }
  }

  apply(embedding: ArrayLike<number>, out = new Float64Array(this.spec.dims)): Float64Array {
    if (embedding.length !== this.inputSize) {
      throw new RangeError(`expected an embedding of ${this.inputSize} values, got ${embedding.length}`);
    }
    for (let i = 0; i < this.rows.length; i++) {
      const { index, weight } = this.rows[i] as { index: Int32Array; weight: Float64Array };
      let sum = 0;
      for (let k = 0; k < index.length; k++)
        sum += (weight[k] as number) * (embedding[index[k] as number] as number);
      out[i] = sum;
    }
    return out;
  }
}
