import {
  attribute,
  attributeFloat,
  consumerMap,
  elementCount,
  floatTensor,
  type GraphProto,
  initializerMap,
  type ModelProto,
  nameNodes,
  producerMap,
  tensorDims,
  tensorToFloat32,
} from '../onnx/index.ts';

export interface PreparationSummary {
  /** BatchNormalization nodes folded into the convolution before them. */
  foldedBatchNorms: string[];
  /** Constant nodes turned into initializers, so their weights can be quantized. */
  constantsToInitializers: number;
}

/**
 * Rewrites a model (in place) into the form the quantizer works on: named nodes, constants as
 * initializers, BatchNormalization folded into the Conv that feeds it. Outputs are unchanged up to
 * float rounding.
 */
export function prepareModel(model: ModelProto): PreparationSummary {
  const graph = model.graph!;
  nameNodes(graph);
  const constantsToInitializers = constantsAsInitializers(graph);
  const foldedBatchNorms = foldBatchNorms(graph);
  dropUnusedInitializers(graph);
  return { foldedBatchNorms, constantsToInitializers };
}

function constantsAsInitializers(graph: GraphProto): number {
  let moved = 0;
  graph.node = (graph.node ?? []).filter((n) => {
    const value = n.opType === 'Constant' && (n.domain ?? '') === '' ? attribute(n, 'value') : undefined;
    if (!value?.t || !n.output?.[0]) return true;
    graph.initializer = [...(graph.initializer ?? []), { ...value.t, name: n.output[0] }];
    moved++;
    return false;
  });
  return moved;
}

function foldBatchNorms(graph: GraphProto): string[] {
  const folded: string[] = [];
  const inits = initializerMap(graph);
  const producers = producerMap(graph);
  const consumers = consumerMap(graph);
  const graphOutputs = new Set((graph.output ?? []).map((o) => o.name));
  const removed = new Set<string>();
  for (const bn of graph.node ?? []) {
    if (bn.opType !== 'BatchNormalization' || (bn.output ?? []).filter(Boolean).length !== 1) continue;
    const conv = producers.get(bn.input?.[0] ?? '');
    const convOut = bn.input?.[0] ?? '';
    if (conv?.opType !== 'Conv' || consumers.get(convOut)?.length !== 1 || graphOutputs.has(convOut))
      continue;
    const params = (bn.input ?? []).slice(1, 5).map((name) => inits.get(name));
    const weight = inits.get(conv.input?.[1] ?? '');
    const biasName = conv.input?.[2];
    const bias = biasName ? inits.get(biasName) : undefined;
    if (params.length !== 4 || params.some((p) => !p) || !weight || (biasName && !bias)) continue;
    const [gamma, beta, mean, variance] = params.map((p) => tensorToFloat32(p!)) as [
      Float32Array,
      Float32Array,
      Float32Array,
      Float32Array,
    ];
    const epsilon = attributeFloat(bn, 'epsilon', 1e-5);
    const dims = tensorDims(weight);
    const outChannels = dims[0]!;
    const perChannel = elementCount(dims) / outChannels;
    const w = tensorToFloat32(weight);
    const b = bias ? tensorToFloat32(bias) : new Float32Array(outChannels);
    const newW = new Float32Array(w.length);
    const newB = new Float32Array(outChannels);
    for (let c = 0; c < outChannels; c++) {
      // Computed in float64 and rounded once, which keeps folded outputs within ~1e-6 of BN's.
      const factor = gamma[c]! / Math.sqrt(variance[c]! + epsilon);
      for (let i = 0; i < perChannel; i++) newW[c * perChannel + i] = w[c * perChannel + i]! * factor;
      newB[c] = (b[c]! - mean[c]!) * factor + beta[c]!;
    }
    // New names: the original weights may be shared with another node.
    const wName = `${conv.name}_weight_bn_folded`;
    const bName = `${conv.name}_bias_bn_folded`;
    graph.initializer!.push(floatTensor(wName, dims, newW), floatTensor(bName, [outChannels], newB));
    conv.input = [conv.input![0]!, wName, bName];
    conv.output = [bn.output![0]!];
    removed.add(bn.name ?? '');
    folded.push(bn.name ?? '');
  }
  graph.node = (graph.node ?? []).filter((n) => !removed.has(n.name ?? ''));
  return folded;
}

export function dropUnusedInitializers(graph: GraphProto): void {
  const used = new Set<string>();
  for (const n of graph.node ?? []) for (const i of n.input ?? []) used.add(i);
  for (const o of graph.output ?? []) used.add(o.name ?? '');
  const dropped = new Set(
    (graph.initializer ?? []).filter((t) => !used.has(t.name ?? '')).map((t) => t.name),
  );
  graph.initializer = (graph.initializer ?? []).filter((t) => !dropped.has(t.name));
  // Old IR versions list initializers among the inputs too; drop those entries with them.
  graph.input = (graph.input ?? []).filter((i) => !dropped.has(i.name));
}
