import {
  cloneModel,
  createSession,
  DataType,
  encodeModel,
  type InferenceSession,
  imageTensor,
  type ModelProto,
} from '../onnx/index.ts';

export type CalibrationMethod = 'minmax' | 'percentile';

export interface TensorRange {
  min: number;
  max: number;
}

export interface CalibrationBatches {
  inputName: string;
  /** Images in the model's own layout, one after another. */
  images: Float32Array;
  count: number;
  /** One image's dims in the model's layout, e.g. [1, 28, 28]. */
  imageDims: number[];
  batchSize: number;
}

export interface CalibrationSettings {
  method: CalibrationMethod;
  /** Kept share of values on each side for 'percentile', e.g. 99.99 (onnxruntime's default). */
  percentile: number;
  onBatch?: (done: number, total: number) => void;
}

const HISTOGRAM_BINS = 2048;

/**
 * Runs the fp32 model over the calibration images with the given tensors exposed as extra graph
 * outputs, and returns each tensor's range: min/max, or trimmed to a percentile on each side (a
 * second pass over a histogram between min and max), which ignores rare outliers that would
 * otherwise stretch the int8 scale.
 */
export async function calibrateRanges(
  model: ModelProto,
  tensors: string[],
  batches: CalibrationBatches,
  settings: CalibrationSettings,
): Promise<Map<string, TensorRange>> {
  const session = await createSession(encodeModel(exposeTensors(model, tensors)));
  const ranges = new Map<string, TensorRange>(tensors.map((t) => [t, { min: Infinity, max: -Infinity }]));
  const passes = settings.method === 'percentile' ? 2 : 1;
  const batchCount = Math.ceil(batches.count / batches.batchSize);
  let done = 0;
  await forEachBatch(
    session,
    tensors,
    batches,
    (name, values) => {
      const r = ranges.get(name)!;
      for (let i = 0; i < values.length; i++) {
        const v = values[i]!;
        if (v < r.min) r.min = v;
        if (v > r.max) r.max = v;
      }
    },
    () => settings.onBatch?.(++done, batchCount * passes),
  );
  if (settings.method === 'minmax') return ranges;

  const histograms = new Map(tensors.map((t) => [t, new Float64Array(HISTOGRAM_BINS)]));
  await forEachBatch(
    session,
    tensors,
    batches,
    (name, values) => {
      const { min, max } = ranges.get(name)!;
      const h = histograms.get(name)!;
      const width = (max - min) / HISTOGRAM_BINS || 1;
      for (let i = 0; i < values.length; i++) {
        const bin = Math.min(HISTOGRAM_BINS - 1, Math.floor((values[i]! - min) / width));
        h[bin]!++;
      }
    },
    () => settings.onBatch?.(++done, batchCount * passes),
  );
  const trimmed = new Map<string, TensorRange>();
  for (const [name, range] of ranges) {
    trimmed.set(name, trimToPercentile(range, histograms.get(name)!, settings.percentile));
  }
  return trimmed;
}

/** Narrows a range to the values between the (100-p)th and p-th percentile of its histogram. */
export function trimToPercentile(
  range: TensorRange,
  histogram: Float64Array,
  percentile: number,
): TensorRange {
  const total = histogram.reduce((a, b) => a + b, 0);
  if (total === 0 || range.max <= range.min) return range;
  const tail = (total * (100 - percentile)) / 100;
  const width = (range.max - range.min) / histogram.length;
  let lowBin = 0;
  for (let seen = 0; lowBin < histogram.length; lowBin++) {
    seen += histogram[lowBin]!;
    if (seen > tail) break;
  }
  let highBin = histogram.length - 1;
  for (let seen = 0; highBin >= 0; highBin--) {
    seen += histogram[highBin]!;
    if (seen > tail) break;
  }
  return { min: range.min + lowBin * width, max: range.min + (highBin + 1) * width };
}

function exposeTensors(model: ModelProto, tensors: string[]): ModelProto {
  const copy = cloneModel(model);
  const graph = copy.graph!;
  const existing = new Set((graph.output ?? []).map((o) => o.name));
  const inputs = new Set((graph.input ?? []).map((i) => i.name));
  for (const name of tensors) {
    if (!existing.has(name) && !inputs.has(name))
      graph.output!.push({ name, type: { tensorType: { elemType: DataType.FLOAT } } });
  }
  return copy;
}

async function forEachBatch(
  session: InferenceSession,
  tensors: string[],
  batches: CalibrationBatches,
  visit: (name: string, values: Float32Array) => void,
  afterBatch: () => void,
): Promise<void> {
  const perImage = batches.imageDims.reduce((a, b) => a * b, 1);
  for (let start = 0; start < batches.count; start += batches.batchSize) {
    const n = Math.min(batches.batchSize, batches.count - start);
    const data = batches.images.subarray(start * perImage, (start + n) * perImage);
    const fetched = tensors.filter((t) => t !== batches.inputName);
    const outputs = await session.run(
      { [batches.inputName]: imageTensor(data, [n, ...batches.imageDims]) },
      fetched,
    );
    if (fetched.length !== tensors.length) visit(batches.inputName, data);
    for (const name of fetched) {
      const out = outputs[name];
      if (out) visit(name, out.data as Float32Array);
    }
    afterBatch();
  }
}
