import {
  attributeInt,
  DataType,
  type GraphProto,
  initializerMap,
  type NodeProto,
  tensorDims,
} from '../onnx/index.ts';

/** How one node runs in a quantized model. */
export type NodeMode = 'int8' | 'weight-only' | 'fp32';

/** A node with a constant weight matrix/kernel: the unit the plan decides on. */
export interface WeightedNode {
  node: NodeProto;
  weight: string;
  /** Output-channel axis of the weight, the per-channel quantization axis. */
  axis: number;
  bias?: string;
  weightElements: number;
}

// Ops whose QDQ form onnxruntime fuses into int8 kernels (or drops QDQ around, for pure data
// movement). Ops outside these sets stay fp32 and are listed in the report.
const WEIGHTED_OPS = new Set(['Conv', 'Gemm', 'MatMul']);
const ACTIVATION_OPS = new Set([
  'Add',
  'Relu',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'Flatten',
  'Reshape',
  'Concat',
  'Softmax',
]);
/** Ops whose output is an exact rearrangement or selection of the input: they share its scale. */
export const SCALE_PRESERVING_OPS = new Set(['MaxPool', 'Flatten', 'Reshape']);

export interface GraphAnalysis {
  weighted: WeightedNode[];
  /** Non-weighted ops that can join int8 when what feeds them is int8. */
  activation: NodeProto[];
  /** Node name → why it cannot be quantized. */
  unsupported: Map<string, string>;
}

/** Which inputs of a node are float activations or constants that QDQ would quantize. */
export function quantizableInputs(node: NodeProto): string[] {
  const inputs = node.input ?? [];
  switch (node.opType) {
    case 'Reshape':
      return inputs.slice(0, 1);
    case 'Conv':
    case 'Gemm':
    case 'MatMul':
    case 'Relu':
    case 'MaxPool':
    case 'AveragePool':
    case 'GlobalAveragePool':
    case 'Flatten':
    case 'Softmax':
      return inputs.slice(0, 1);
    default:
      return inputs.filter(Boolean);
  }
}

export function analyzeGraph(graph: GraphProto): GraphAnalysis {
  const inits = initializerMap(graph);
  const weighted: WeightedNode[] = [];
  const activation: NodeProto[] = [];
  const unsupported = new Map<string, string>();
  for (const node of graph.node ?? []) {
    const name = node.name ?? '';
    const op = node.opType ?? '';
    if ((node.domain ?? '') !== '') {
      unsupported.set(name, `op ${node.domain}.${op} is outside the ONNX default domain`);
    } else if (WEIGHTED_OPS.has(op)) {
      const reason = weightedReason(node, inits);
      if (typeof reason === 'string') unsupported.set(name, reason);
      else weighted.push(reason);
    } else if (ACTIVATION_OPS.has(op)) {
      if (op === 'MaxPool' && (node.output ?? []).filter(Boolean).length > 1) {
        unsupported.set(name, 'MaxPool with an Indices output has no int8 kernel');
      } else activation.push(node);
    } else {
      unsupported.set(name, `op ${op} is not in the int8 op set; kept fp32`);
    }
  }
  return { weighted, activation, unsupported };
}

function weightedReason(node: NodeProto, inits: ReturnType<typeof initializerMap>): WeightedNode | string {
  const op = node.opType;
  const weightName = node.input?.[1] ?? '';
  const w = inits.get(weightName);
  if (!w) return `${op} weight '${weightName}' is computed at run time, not a constant`;
  if (w.dataType !== DataType.FLOAT) return `${op} weight is ${DataType[w.dataType ?? 0]}, not float32`;
  const dims = tensorDims(w);
  let axis: number;
  if (op === 'Conv') axis = 0;
  else if (dims.length !== 2) return `${op} weight has rank ${dims.length}; only 2-D matrices are quantized`;
  else if (op === 'Gemm') {
    if (attributeInt(node, 'transA', 0) !== 0) return 'Gemm with transA=1 is kept fp32';
    axis = attributeInt(node, 'transB', 0) === 1 ? 0 : 1;
  } else axis = 1;
  const bias = op === 'Conv' || op === 'Gemm' ? node.input?.[2] : undefined;
  if (bias && !inits.has(bias)) return `${op} bias '${bias}' is computed at run time, not a constant`;
  return {
    node,
    weight: weightName,
    axis,
    ...(bias ? { bias } : {}),
    weightElements: dims.reduce((a, b) => a * b, 1),
  };
}
