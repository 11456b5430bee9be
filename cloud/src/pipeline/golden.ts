// The golden set each variant ships with: a few test images, preprocessed, and the outputs the cloud
// observed for them. A device runs them before it activates a model; a mismatch means wrong bytes,
// a broken runtime or different preprocessing. The tolerance comes from measurement: a device's
// runtime (another CPU, wasm, other kernels) may round int8 arithmetic differently, but not by more
// than int8 differs from fp32 here, while a wrong model differs by far more.
import { base64Encode, type GoldenSet, type OutputSpec } from '@edgeloop/shared';
import { float32LittleEndian } from '../datasets/dataset.ts';
import type { LabelledImages } from '../datasets/index.ts';
import type { SessionConfigEntries } from '../onnx/index.ts';
import { createSession, type ImageInput, imageTensor, toLayout } from '../onnx/index.ts';

export interface GoldenVariant {
  bytes: Uint8Array;
  sessionOptions?: SessionConfigEntries;
}

const MAX_CASES = 8;
const MIN_TOLERANCE = 1e-3;
/** Above this a golden check would pass nearly anything; the schema caps it at 1. */
const MAX_TOLERANCE = 0.5;
const MARGIN = 2;

/** The output a golden check compares: the probabilities, else the logits. */
export function goldenOutput(outputs: OutputSpec[]): OutputSpec | undefined {
  return outputs.find((o) => o.role === 'probabilities') ?? outputs.find((o) => o.role === 'logits');
}

/** One image per class first (so each class's path through the model is checked), up to 8. */
function pickCases(split: LabelledImages, classes: number): number[] {
  const picked: number[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < split.count && picked.length < Math.min(MAX_CASES, classes); i++) {
    const label = split.labels[i] as number;
    if (!seen.has(label)) {
      seen.add(label);
      picked.push(i);
    }
  }
  for (let i = 0; i < split.count && picked.length < MAX_CASES; i++) if (!picked.includes(i)) picked.push(i);
  return picked.slice(0, MAX_CASES);
}

async function runCases(
  variant: GoldenVariant,
  output: string,
  inputName: string,
  cases: Float32Array[],
  dims: number[],
) {
  const session = await createSession(
    variant.bytes,
    variant.sessionOptions ? { configEntries: variant.sessionOptions } : {},
  );
  try {
    const results: Float32Array[] = [];
    for (const input of cases) {
      const out = await session.run({ [inputName]: imageTensor(input, dims) }, [output]);
      results.push(Float32Array.from(out[output]!.data as Float32Array));
    }
    return results;
  } finally {
    await session.release();
  }
}

/**
 * Golden sets for each variant (same cases, each variant's own outputs, one tolerance) and the
 * largest fp32/int8 difference measured, which the tolerance was derived from.
 */
export async function buildGoldenSets(args: {
  variants: GoldenVariant[];
  input: ImageInput;
  outputs: OutputSpec[];
  split: LabelledImages;
  shape: { channels: number; height: number; width: number };
  classes: number;
}): Promise<{ sets: GoldenSet[]; maxVariantDifference: number } | undefined> {
  const output = goldenOutput(args.outputs);
  if (output === undefined || args.split.count === 0) return undefined;
  const { channels, height, width } = args.shape;
  const perImage = channels * height * width;
  const dims = args.input.layout === 'NCHW' ? [1, channels, height, width] : [1, height, width, channels];
  const cases = pickCases(args.split, args.classes).map((i) =>
    toLayout(args.split.images.slice(i * perImage, (i + 1) * perImage), 1, args.shape, args.input.layout),
  );
  const results: Float32Array[][] = [];
  for (const variant of args.variants) {
    results.push(await runCases(variant, output.name, args.input.name, cases, dims));
  }
  let maxVariantDifference = 0;
  const reference = results[0] as Float32Array[];
  for (const other of results.slice(1)) {
    other.forEach((values, c) => {
      values.forEach((v, k) => {
        maxVariantDifference = Math.max(maxVariantDifference, Math.abs(v - (reference[c]?.[k] ?? 0)));
      });
    });
  }
  const tolerance = Math.min(MAX_TOLERANCE, Math.max(MIN_TOLERANCE, MARGIN * maxVariantDifference));
  const sets = results.map((outputs) => ({
    output: output.name,
    tolerance,
    cases: cases.map((input, c) => ({
      input: base64Encode(float32LittleEndian(input)),
      expected: base64Encode(float32LittleEndian(outputs[c] as Float32Array)),
    })),
  }));
  return { sets, maxVariantDifference };
}
