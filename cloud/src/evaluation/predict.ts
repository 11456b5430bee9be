import {
  createSession,
  type InferenceSession,
  imageTensor,
  type SessionConfigEntries,
} from '../onnx/index.ts';

export interface ImageBatchSource {
  inputName: string;
  /** Images in the model's layout. */
  images: Float32Array;
  count: number;
  imageDims: number[];
  batchSize: number;
}

/** The output that carries class scores: `logits` by the default contract, else the first output. */
export function scoreOutputName(session: InferenceSession): string {
  return session.outputNames.includes('logits') ? 'logits' : session.outputNames[0]!;
}

/** Top-1 class per image. */
export async function predictTop1(
  bytes: Uint8Array,
  source: ImageBatchSource,
  configEntries?: SessionConfigEntries,
): Promise<Uint8Array> {
  const session = await createSession(bytes, configEntries ? { configEntries } : {});
  try {
    return await predictWithSession(session, source);
  } finally {
    await session.release();
  }
}

export async function predictWithSession(
  session: InferenceSession,
  source: ImageBatchSource,
): Promise<Uint8Array> {
  const output = scoreOutputName(session);
  const perImage = source.imageDims.reduce((a, b) => a * b, 1);
  const predictions = new Uint8Array(source.count);
  for (let start = 0; start < source.count; start += source.batchSize) {
    const n = Math.min(source.batchSize, source.count - start);
    const data = source.images.subarray(start * perImage, (start + n) * perImage);
    const result = await session.run({ [source.inputName]: imageTensor(data, [n, ...source.imageDims]) }, [
      output,
    ]);
    const scores = result[output]!.data as Float32Array;
    const classes = scores.length / n;
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (scores[i * classes + c]! > scores[i * classes + best]!) best = c;
      predictions[start + i] = best;
    }
  }
  return predictions;
}

export function agreement(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length || a.length === 0)
    throw new RangeError('agreement needs two equal, non-empty prediction lists');
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}
