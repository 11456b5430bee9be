import { DEFAULT_LATENCY, type LatencySettings } from '../evaluation/latency.ts';
import {
  cloneModel,
  decodeModel,
  detectImageInput,
  type ImageInput,
  initializerMap,
  opsetVersion,
  toLayout,
} from '../onnx/index.ts';
import { type CalibrationMethod, calibrateRanges } from './calibrate.ts';
import { QuantizationError } from './errors.ts';
import { analyzeGraph, quantizableInputs } from './ops.ts';
import { searchPlan } from './plan.ts';
import { prepareModel } from './prepare.ts';
import type { NodeReport, QuantizationReport } from './report.ts';

export interface CalibrationImages {
  /** count × C × H × W floats in NCHW order (the dataset layout), whatever the model's layout. */
  images: Float32Array;
  count: number;
  shape: { channels: number; height: number; width: number };
}

export interface QuantizationProgress {
  stage: 'prepare' | 'calibrate' | 'plan' | 'done';
  message: string;
  done: number;
  total: number;
}

export interface QuantizeOptions {
  calibrationMethod?: CalibrationMethod;
  /** For 'percentile': share of values kept on each side (default 99.999). */
  percentile?: number;
  /** Calibration uses at most this many images (default 512). */
  maxCalibrationImages?: number;
  latency?: Partial<LatencySettings>;
  /** Allowed batch-1 slowdown against fp32, for timer noise (default 0.05). */
  latencyTolerance?: number;
  /** Minimum top-1 agreement with fp32 on the calibration images (default 0.99). */
  minAgreement?: number;
  onProgress?: (progress: QuantizationProgress) => void;
}

export interface QuantizedModel {
  model: Uint8Array;
  report: QuantizationReport;
}

// DequantizeLinear's per-channel `axis` arrived in opset 13; QuantizeLinear itself in opset 10.
const PER_CHANNEL_OPSET = 13;
const QDQ_OPSET = 10;

/**
 * int8 post-training static quantization (QDQ) of an fp32 ONNX image model, with a per-node plan
 * chosen by measuring candidates in onnxruntime-node so the result is no slower than fp32.
 *
 * @example
 * const { model, report } = await quantizeModel(bytes, { images, count, shape: { channels: 1, height: 28, width: 28 } });
 * // open `model` with report.sessionOptions
 */
export async function quantizeModel(
  fp32Bytes: Uint8Array,
  calibration: CalibrationImages,
  options: QuantizeOptions = {},
): Promise<QuantizedModel> {
  const progress = options.onProgress ?? (() => {});
  const original = decodeModel(fp32Bytes);
  const image = detectImageInput(original);
  checkCalibration(calibration, image);
  const opset = opsetVersion(original) ?? 0;
  if (opset < QDQ_OPSET) {
    throw new QuantizationError(
      'QUANT_UNSUPPORTED_MODEL',
      `Model uses opset ${opset}; QuantizeLinear needs opset ${QDQ_OPSET} or later. Re-export the model with a newer opset.`,
    );
  }

  progress({ stage: 'prepare', message: 'folding BatchNormalization, naming nodes', done: 0, total: 1 });
  const prepared = cloneModel(original);
  const preparation = prepareModel(prepared);
  const analysis = analyzeGraph(prepared.graph!);
  const perChannel = opset >= PER_CHANNEL_OPSET;

  const count = Math.min(calibration.count, options.maxCalibrationImages ?? 512);
  const perImage = image.channels * image.height * image.width;
  const images = toLayout(
    calibration.images.subarray(0, count * perImage),
    count,
    calibration.shape,
    image.layout,
  );
  const imageDims =
    image.layout === 'NCHW'
      ? [image.channels, image.height, image.width]
      : [image.height, image.width, image.channels];
  const batchSize = image.batch ?? 32;
  const method = options.calibrationMethod ?? 'minmax';
  const percentile = options.percentile ?? 99.999;
  const ranges = await calibrateRanges(
    prepared,
    calibrationTensors(analysis, initializerMap(prepared.graph!)),
    { inputName: image.name, images, count, imageDims, batchSize },
    {
      method,
      percentile,
      onBatch: (done, total) =>
        progress({ stage: 'calibrate', message: 'collecting activation ranges', done, total }),
    },
  );

  const latency = { ...DEFAULT_LATENCY, ...options.latency };
  const search = await searchPlan({
    prepared,
    analysis,
    ranges,
    perChannel,
    latencyInput: { name: image.name, data: images.slice(0, perImage), dims: [1, ...imageDims] },
    agreementImages: { inputName: image.name, images, count, imageDims, batchSize },
    latency,
    latencyTolerance: options.latencyTolerance ?? 0.05,
    minAgreement: options.minAgreement ?? 0.99,
    onStep: (message, done, total) => progress({ stage: 'plan', message, done, total }),
  });

  const nodes: NodeReport[] = (prepared.graph!.node ?? []).map((n) => {
    const name = n.name ?? '';
    const mode = search.chosen.modes.get(name) ?? 'fp32';
    const measuredMs = search.measurements.get(name);
    return {
      name,
      op: n.opType ?? '',
      mode,
      reason: nodeReason(
        name,
        mode,
        analysis.unsupported,
        search.chosen.report.label,
        measuredMs !== undefined,
      ),
      ...(measuredMs ? { measuredMs } : {}),
    };
  });
  const fp32 = search.candidates[0]!.report;
  const chosen = search.chosen.report;
  const report: QuantizationReport = {
    format: 'QDQ',
    weights: perChannel ? 'int8 symmetric per-channel' : 'int8 symmetric per-tensor',
    activations: 'int8 asymmetric per-tensor',
    opset,
    calibration: { method, ...(method === 'percentile' ? { percentile } : {}), images: count },
    preparation,
    nodes,
    keptFp32: nodes.filter((n) => n.mode === 'fp32').map(({ name, op, reason }) => ({ name, op, reason })),
    candidates: search.candidates.map((c) => c.report),
    chosen: chosen.label,
    sizes: {
      fp32Bytes: fp32Bytes.length,
      quantizedBytes: chosen.bytes,
      ratio: chosen.bytes / fp32Bytes.length,
    },
    latencyB1: {
      fp32Ms: fp32.latencyB1Ms,
      quantizedMs: chosen.latencyB1Ms,
      ratio: chosen.latencyB1Ms / fp32.latencyB1Ms,
    },
    sessionOptions: chosen.sessionOptions,
  };
  progress({ stage: 'done', message: `chose ${chosen.label}`, done: 1, total: 1 });
  return { model: search.chosen.model, report };
}

function nodeReason(
  name: string,
  mode: string,
  unsupported: Map<string, string>,
  plan: string,
  measured: boolean,
): string {
  const why = unsupported.get(name);
  if (why) return why;
  if (plan === 'fp32') return 'no quantized candidate was both no slower than fp32 and accurate enough';
  if (mode === 'weight-only') {
    return plan === 'weight-only'
      ? 'int8 weights folded to fp32 at load (session.disable_quant_qdq): fp32 speed at ~1/4 the weight bytes'
      : 'weight-only measured no slower than int8 or fp32 for this node';
  }
  if (mode === 'int8')
    return measured ? 'int8 measured fastest for this node' : 'reads only int8 activations';
  if (plan === 'weight-only') return 'activation op; the weight-only plan keeps activations fp32';
  return measured
    ? 'fp32 measured faster than int8 and weight-only for this node'
    : 'an input comes from an fp32 node';
}

function calibrationTensors(
  analysis: ReturnType<typeof analyzeGraph>,
  inits: Map<string, unknown>,
): string[] {
  const out = new Set<string>();
  for (const node of [...analysis.weighted.map((w) => w.node), ...analysis.activation]) {
    for (const i of quantizableInputs(node)) if (!inits.has(i)) out.add(i);
    if (node.output?.[0]) out.add(node.output[0]);
  }
  return [...out];
}

function checkCalibration(c: CalibrationImages, image: ImageInput): void {
  if (!(c.count > 0)) {
    throw new QuantizationError('QUANT_CALIBRATION_EMPTY', 'Calibration needs at least one image; got none');
  }
  const { channels, height, width } = c.shape;
  if (channels !== image.channels || height !== image.height || width !== image.width) {
    throw new QuantizationError(
      'QUANT_CALIBRATION_SHAPE',
      `Calibration images are ${channels}×${height}×${width} (C×H×W) but model input '${image.name}' expects ${image.channels}×${image.height}×${image.width}`,
    );
  }
  const expected = c.count * channels * height * width;
  if (c.images.length !== expected) {
    throw new QuantizationError(
      'QUANT_CALIBRATION_SHAPE',
      `Calibration data holds ${c.images.length} floats but ${c.count} images of ${channels}×${height}×${width} need ${expected}`,
    );
  }
  for (let i = 0; i < c.images.length; i++) {
    if (!Number.isFinite(c.images[i])) {
      throw new QuantizationError(
        'QUANT_CALIBRATION_VALUES',
        `Calibration data has a non-finite value at index ${i}`,
      );
    }
  }
}
