import { type LatencyInput, type LatencySettings, measureLatencies } from '../evaluation/latency.ts';
import { agreement, type ImageBatchSource, predictTop1 } from '../evaluation/predict.ts';
import {
  encodeModel,
  initializerMap,
  type ModelProto,
  producerMap,
  type SessionConfigEntries,
  topologicalOrder,
} from '../onnx/index.ts';
import type { TensorRange } from './calibrate.ts';
import { type GraphAnalysis, type NodeMode, quantizableInputs } from './ops.ts';
import { writeQdqModel } from './qdq.ts';
import type { CandidateReport, NodeMeasurement } from './report.ts';

/**
 * onnxruntime folds DequantizeLinear on constant weights at load only with this entry; without it a
 * weight-only node dequantizes on every run and loses weight prepacking (1.5–2× slower, FACTS.md).
 * The same entry also turns full int8 QDQ groups back into fp32 math, so a plan is either
 * weight-only under this entry, or int8/fp32 (and weight-only only where measured no slower) without.
 */
export const FOLD_WEIGHT_DEQUANTIZE: SessionConfigEntries = { 'session.disable_quant_qdq': '1' };

export interface PlanSearchInput {
  prepared: ModelProto;
  analysis: GraphAnalysis;
  ranges: ReadonlyMap<string, TensorRange>;
  perChannel: boolean;
  latencyInput: LatencyInput;
  agreementImages: ImageBatchSource;
  latency: LatencySettings;
  /** Allowed batch-1 slowdown against fp32 before a candidate is rejected, for timer noise. */
  latencyTolerance: number;
  minAgreement: number;
  onStep?: (message: string, done: number, total: number) => void;
}

export interface PlanCandidate {
  report: CandidateReport;
  modes: Map<string, NodeMode>;
  model: Uint8Array;
}

export interface PlanSearchResult {
  chosen: PlanCandidate;
  candidates: PlanCandidate[];
  measurements: Map<string, NodeMeasurement>;
}

const SIZE_TIE_BAND = 0.1;

export async function searchPlan(input: PlanSearchInput): Promise<PlanSearchResult> {
  const units = [...input.analysis.weighted].sort((a, b) => b.weightElements - a.weightElements);
  const unitNames = units.map((u) => u.node.name ?? '');
  const build = (modes: Map<string, NodeMode>) =>
    encodeModel(
      writeQdqModel(
        input.prepared,
        withActivationModes(input, modes),
        input.ranges,
        input.perChannel ? { perChannel: true } : { perChannel: false },
      ),
    );
  const measurements = new Map<string, NodeMeasurement>();
  const total = units.length + 2;

  // Greedy from fp32 in the default session, largest weights first: try the node in int8 and
  // weight-only with the rest of the plan fixed, measured interleaved with the fp32 model, and keep
  // a quantized mode when the whole model stays within the latency budget. (Starting from all-int8
  // instead gets stuck: on narrow CNNs every single-node step back to fp32 adds a QDQ boundary.)
  const fp32Bytes = build(new Map(unitNames.map((n) => [n, 'fp32' as NodeMode])));
  let modes = new Map(unitNames.map((n) => [n, 'fp32' as NodeMode]));
  for (const [i, name] of unitNames.entries()) {
    input.onStep?.(`measuring ${name}`, i, total);
    const options: NodeMode[] = ['int8', 'weight-only'];
    const variants = options.map((mode) => new Map(modes).set(name, mode));
    const stats = await measureLatencies(
      [{ bytes: fp32Bytes }, ...variants.map((m) => ({ bytes: build(m) }))],
      input.latencyInput,
      input.latency,
    );
    const [fp32Ms, int8Ms, weightOnlyMs] = stats.map((s) => s.p50) as [number, number, number];
    measurements.set(name, { fp32: fp32Ms, int8: int8Ms, 'weight-only': weightOnlyMs });
    const budget = fp32Ms * (1 + input.latencyTolerance / 2);
    const fits = [int8Ms, weightOnlyMs].map((ms) => ms <= budget);
    if (fits[0] && (!fits[1] || int8Ms <= weightOnlyMs)) modes = variants[0]!;
    else if (fits[1]) modes = variants[1]!;
  }

  input.onStep?.('measuring candidates', units.length, total);
  const fp32Modes = new Map(unitNames.map((n) => [n, 'fp32' as NodeMode]));
  const weightOnlyModes = new Map(unitNames.map((n) => [n, 'weight-only' as NodeMode]));
  const specs: {
    label: CandidateReport['label'];
    modes: Map<string, NodeMode>;
    entries: SessionConfigEntries;
  }[] = [
    { label: 'fp32', modes: fp32Modes, entries: {} },
    { label: 'weight-only', modes: weightOnlyModes, entries: FOLD_WEIGHT_DEQUANTIZE },
    { label: 'int8-mixed', modes, entries: {} },
    // All-int8 too: per-node steps cannot see that QDQ boundaries vanish once every layer is int8.
    { label: 'int8', modes: new Map(unitNames.map((n) => [n, 'int8' as NodeMode])), entries: {} },
  ];
  const models = specs.map((s) => build(s.modes));
  const finalLatency = { ...input.latency, samples: input.latency.samples * 2 };
  const stats = await measureLatencies(
    models.map((bytes, i) => ({ bytes, configEntries: specs[i]!.entries })),
    input.latencyInput,
    finalLatency,
  );
  input.onStep?.('checking agreement', units.length + 1, total);
  const reference = await predictTop1(models[0]!, input.agreementImages);
  const candidates: PlanCandidate[] = [];
  for (const [i, spec] of specs.entries()) {
    const predictions =
      i === 0 ? reference : await predictTop1(models[i]!, input.agreementImages, spec.entries);
    candidates.push({
      modes: withActivationModes(input, spec.modes),
      model: models[i]!,
      report: {
        label: spec.label,
        bytes: models[i]!.length,
        latencyB1Ms: stats[i]!.p50,
        agreement: agreement(reference, predictions),
        sessionOptions: spec.entries,
        chosen: false,
      },
    });
  }
  const chosen = choose(candidates, input);
  chosen.report.chosen = true;
  input.onStep?.('plan chosen', total, total);
  return { chosen, candidates, measurements };
}

/**
 * Among candidates no slower than fp32 (within tolerance) that keep agreement, the fastest of those
 * within SIZE_TIE_BAND of the smallest: a few percent of bytes do not justify a slower model.
 * fp32 itself is always eligible.
 */
function choose(candidates: PlanCandidate[], input: PlanSearchInput): PlanCandidate {
  const fp32 = candidates[0]!;
  const limit = fp32.report.latencyB1Ms * (1 + input.latencyTolerance);
  const eligible: PlanCandidate[] = [];
  for (const c of candidates) {
    if (c === fp32) eligible.push(c);
    else if (c.report.latencyB1Ms > limit) {
      c.report.rejected = `batch-1 latency ${c.report.latencyB1Ms.toFixed(4)} ms > fp32 ${fp32.report.latencyB1Ms.toFixed(4)} ms × ${(1 + input.latencyTolerance).toFixed(2)}`;
    } else if (c.report.agreement < input.minAgreement) {
      c.report.rejected = `agreement ${(c.report.agreement * 100).toFixed(2)}% < ${(input.minAgreement * 100).toFixed(2)}%`;
    } else eligible.push(c);
  }
  const smallest = Math.min(...eligible.map((c) => c.report.bytes));
  return eligible
    .filter((c) => c.report.bytes <= smallest * (1 + SIZE_TIE_BAND))
    .reduce((best, c) => (c.report.latencyB1Ms < best.report.latencyB1Ms ? c : best));
}

/**
 * Completes a plan over weighted nodes with the activation ops: one joins int8 when every
 * activation it reads comes from an int8 node, so quantized chains stay in int8 between layers.
 */
export function withActivationModes(
  input: Pick<PlanSearchInput, 'prepared' | 'analysis'>,
  weighted: Map<string, NodeMode>,
) {
  const graph = input.prepared.graph!;
  const producers = producerMap(graph);
  const inits = initializerMap(graph);
  const activation = new Set(input.analysis.activation.map((n) => n.name));
  const modes = new Map(weighted);
  for (const node of topologicalOrder(graph)) {
    if (!activation.has(node.name)) continue;
    const feeds = quantizableInputs(node).filter((i) => !inits.has(i));
    const allInt8 =
      feeds.length > 0 && feeds.every((i) => modes.get(producers.get(i)?.name ?? '') === 'int8');
    modes.set(node.name ?? '', allInt8 ? 'int8' : 'fp32');
  }
  return modes;
}
