// Model outputs → a classification. Pure; the same rules as the edge agent: use the output whose
// role is `probabilities`, else softmax the `logits`.
import type { ModelManifest } from '@edgeloop/shared';
import { EdgeloopWebError } from './errors.ts';

/** One class and how confident the model is in it. */
export interface ClassScore {
  classIndex: number;
  label: string;
  confidence: number;
}

/**
 * Numerically stable softmax over one row.
 *
 * @example
 * softmax(Float32Array.of(0, 0)); // Float32Array [0.5, 0.5]
 */
export function softmax(logits: Float32Array): Float32Array {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of logits) if (v > max) max = v;
  const out = new Float32Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    out[i] = Math.exp((logits[i] ?? 0) - max);
    sum += out[i] ?? 0;
  }
  for (let i = 0; i < out.length; i++) out[i] = (out[i] ?? 0) / sum;
  return out;
}

/**
 * The class probabilities from a run's outputs, per the manifest's output roles.
 *
 * @example
 * const probs = probabilitiesFrom(outputs, manifest);
 */
export function probabilitiesFrom(
  outputs: Record<string, Float32Array>,
  manifest: Pick<ModelManifest, 'outputs' | 'classes'>,
): Float32Array {
  const spec =
    manifest.outputs.find((o) => o.role === 'probabilities') ??
    manifest.outputs.find((o) => o.role === 'logits');
  const data = spec && outputs[spec.name];
  if (!spec || !data) {
    throw new EdgeloopWebError(
      'MODEL_INVALID',
      'model has no probabilities or logits output the manifest names',
    );
  }
  const row = data.subarray(0, manifest.classes.length);
  if (row.length !== manifest.classes.length) {
    throw new EdgeloopWebError(
      'MODEL_INVALID',
      `output ${spec.name} has ${data.length} values for ${manifest.classes.length} classes`,
    );
  }
  return spec.role === 'probabilities' ? row : softmax(row);
}

/**
 * The `k` best classes, highest first (ties keep class order).
 *
 * @example
 * topK(Float32Array.of(0.1, 0.7, 0.2), ['a', 'b', 'c'], 2); // [{ classIndex: 1, label: 'b', … }, …]
 */
export function topK(probabilities: Float32Array, classes: readonly string[], k: number): ClassScore[] {
  return Array.from(probabilities, (confidence, classIndex) => ({
    classIndex,
    label: classes[classIndex] ?? String(classIndex),
    confidence,
  }))
    .sort((a, b) => b.confidence - a.confidence || a.classIndex - b.classIndex)
    .slice(0, Math.max(1, Math.min(k, classes.length)));
}
