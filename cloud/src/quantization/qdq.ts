import {
  cloneModel,
  consumerMap,
  floatTensor,
  type GraphProto,
  initializerMap,
  int8Tensor,
  int32Tensor,
  type ModelProto,
  type NodeProto,
  producerMap,
  type TensorProto,
  tensorDims,
  tensorToFloat32,
  topologicalOrder,
} from '../onnx/index.ts';
import type { TensorRange } from './calibrate.ts';
import {
  type AffineParams,
  affineParams,
  quantizeAffine,
  quantizeBiasInt32,
  quantizeSymmetricPerChannel,
  quantizeSymmetricPerTensor,
} from './int8.ts';
import {
  analyzeGraph,
  type NodeMode,
  quantizableInputs,
  SCALE_PRESERVING_OPS,
  type WeightedNode,
} from './ops.ts';
import { dropUnusedInitializers } from './prepare.ts';

export interface QdqSettings {
  /** Per-channel weight scales need DequantizeLinear's `axis` (opset 13); per-tensor otherwise. */
  perChannel: boolean;
}

// Softmax outputs lie in [0, 1]; onnxruntime's int8 Softmax kernel requires exactly this scale.
const SOFTMAX_PARAMS: AffineParams = { scale: 1 / 256, zeroPoint: -128 };

/**
 * Writes a QDQ model for a plan. 'int8' nodes get QuantizeLinear→DequantizeLinear on their
 * activations, int8 weights and int32 biases, the pattern onnxruntime fuses into int8 kernels;
 * 'weight-only' nodes get int8 weights behind DequantizeLinear and keep fp32 activations; 'fp32'
 * nodes are untouched. `plan` maps node names; nodes not in it stay fp32.
 */
export function writeQdqModel(
  prepared: ModelProto,
  plan: ReadonlyMap<string, NodeMode>,
  ranges: ReadonlyMap<string, TensorRange>,
  settings: QdqSettings,
): ModelProto {
  const model = cloneModel(prepared);
  const graph = model.graph!;
  const rewrite = new QdqRewrite(graph, plan, ranges, settings);
  rewrite.fuseReluIntoQuantize();
  // Activation scales first: an int32 bias must use exactly input scale × weight scale.
  const activations = rewrite.chooseActivationParams();
  rewrite.quantizeWeights();
  rewrite.quantizeActivations(activations);
  graph.node = topologicalOrder(graph);
  dropUnusedInitializers(graph);
  return model;
}

class QdqRewrite {
  private readonly inits: Map<string, TensorProto>;
  private readonly int8 = new Set<string>();
  private readonly params = new Map<string, AffineParams>();
  private readonly added: NodeProto[] = [];

  constructor(
    private readonly graph: GraphProto,
    private readonly plan: ReadonlyMap<string, NodeMode>,
    private readonly ranges: ReadonlyMap<string, TensorRange>,
    private readonly settings: QdqSettings,
  ) {
    this.inits = initializerMap(graph);
    for (const [name, mode] of plan) if (mode === 'int8') this.int8.add(name);
  }

  /**
   * An int8 Relu right after an int8 producer is dropped: the producer's output is quantized with the
   * Relu output's range, whose zero point is -128, so QuantizeLinear itself clamps negatives to 0
   * (what onnxruntime's own quantizer does).
   */
  fuseReluIntoQuantize(): void {
    const producers = producerMap(this.graph);
    const consumers = consumerMap(this.graph);
    const outputs = new Set((this.graph.output ?? []).map((o) => o.name));
    const removed = new Set<NodeProto>();
    for (const relu of this.graph.node ?? []) {
      if (relu.opType !== 'Relu' || !this.int8.has(relu.name ?? '')) continue;
      const t = relu.input![0]!;
      const producer = producers.get(t);
      if (
        !producer ||
        !this.int8.has(producer.name ?? '') ||
        consumers.get(t)?.length !== 1 ||
        outputs.has(t)
      )
        continue;
      producer.output = producer.output!.map((o) => (o === t ? relu.output![0]! : o));
      removed.add(relu);
    }
    this.graph.node = (this.graph.node ?? []).filter((n) => !removed.has(n));
  }

  quantizeWeights(): void {
    const analysis = analyzeGraph(this.graph);
    for (const w of analysis.weighted) {
      const mode = this.plan.get(w.node.name ?? '') ?? 'fp32';
      if (mode === 'fp32') continue;
      const scales = this.quantizeWeight(w);
      if (mode === 'int8' && w.bias) this.quantizeBias(w, scales);
    }
  }

  chooseActivationParams(): Set<string> {
    const tensors = this.activationTensors();
    const inputs = new Set((this.graph.input ?? []).map((i) => i.name));
    for (const t of tensors) if (inputs.has(t)) this.params.set(t, this.rangeParams(t));
    for (const node of topologicalOrder(this.graph)) {
      const out = node.output?.[0];
      if (!out || !tensors.has(out)) continue;
      const isInt8 = this.int8.has(node.name ?? '');
      const inputParams = this.params.get(node.input?.[0] ?? '');
      if (isInt8 && SCALE_PRESERVING_OPS.has(node.opType ?? '') && inputParams)
        this.params.set(out, inputParams);
      else if (isInt8 && node.opType === 'Softmax') this.params.set(out, SOFTMAX_PARAMS);
      else this.params.set(out, this.rangeParams(out));
    }
    return tensors;
  }

  quantizeActivations(tensors: Set<string>): void {
    for (const node of topologicalOrder(this.graph)) {
      if (!this.int8.has(node.name ?? '')) continue;
      for (const input of quantizableInputs(node)) {
        const constant = this.inits.get(input);
        if (constant) this.quantizeConstantInput(node, input, constant);
      }
    }
    const producers = producerMap(this.graph);
    const consumers = consumerMap(this.graph);
    for (const t of tensors) this.insertQdq(t, producers.get(t), consumers.get(t) ?? []);
    this.graph.node = [...(this.graph.node ?? []), ...this.added];
  }

  /** Float activations read or written by int8 nodes: each gets one Q→DQ pair. */
  private activationTensors(): Set<string> {
    const out = new Set<string>();
    for (const node of this.graph.node ?? []) {
      if (!this.int8.has(node.name ?? '')) continue;
      for (const i of quantizableInputs(node)) if (!this.inits.has(i)) out.add(i);
      if (node.output?.[0]) out.add(node.output[0]);
    }
    return out;
  }

  private rangeParams(tensor: string): AffineParams {
    const r = this.ranges.get(tensor);
    if (!r || !Number.isFinite(r.min) || !Number.isFinite(r.max)) {
      throw new Error(`no calibration range for tensor '${tensor}'`);
    }
    return affineParams(r.min, r.max);
  }

  private quantizeWeight(w: WeightedNode): Float32Array {
    const tensor = this.inits.get(w.weight)!;
    const dims = tensorDims(tensor);
    const data = tensorToFloat32(tensor);
    const perChannel = this.settings.perChannel;
    const q = perChannel ? quantizeSymmetricPerChannel(data, dims, w.axis) : quantizeSymmetricPerTensor(data);
    const base = `${w.node.name}_weight`;
    const channelDims = perChannel ? [q.scales.length] : [];
    this.addInitializers(
      int8Tensor(`${base}_quantized`, dims, q.values),
      floatTensor(`${base}_scale`, channelDims, q.scales),
      int8Tensor(`${base}_zero_point`, channelDims, new Int8Array(q.scales.length)),
    );
    const out = this.dequantize(base, perChannel ? w.axis : undefined);
    w.node.input![1] = out;
    return q.scales;
  }

  private quantizeBias(w: WeightedNode, weightScales: Float32Array): void {
    const tensor = this.inits.get(w.bias!)!;
    const dims = tensorDims(tensor);
    const channels = tensorDims(this.inits.get(`${w.node.name}_weight_quantized`)!)[w.axis]!;
    // A broadcast bias ([1, N] or a scalar) keeps fp32; onnxruntime then runs the op without fusion.
    if (dims.length !== 1 || dims[0] !== channels) return;
    const inputParams = this.params.get(w.node.input![0]!)!;
    const q = quantizeBiasInt32(tensorToFloat32(tensor), inputParams.scale, weightScales);
    const base = `${w.node.name}_bias`;
    // Per-tensor weights give one bias scale; a 1-D scale would need `axis` (opset 13).
    const scaleDims = this.settings.perChannel ? dims : [];
    this.addInitializers(
      int32Tensor(`${base}_quantized`, dims, q.values),
      floatTensor(`${base}_scale`, scaleDims, this.settings.perChannel ? q.scales : q.scales.subarray(0, 1)),
      int32Tensor(`${base}_zero_point`, scaleDims, new Int32Array(this.settings.perChannel ? channels : 1)),
    );
    w.node.input![2] = this.dequantize(base, this.settings.perChannel ? 0 : undefined);
  }

  private quantizeConstantInput(node: NodeProto, input: string, constant: TensorProto): void {
    const data = tensorToFloat32(constant);
    const p = affineParams(Math.min(...data), Math.max(...data));
    const base = `${node.name}_${input}`;
    this.addInitializers(
      int8Tensor(`${base}_quantized`, tensorDims(constant), quantizeAffine(data, p)),
      floatTensor(`${base}_scale`, [], Float32Array.of(p.scale)),
      int8Tensor(`${base}_zero_point`, [], Int8Array.of(p.zeroPoint)),
    );
    const out = this.dequantize(base);
    node.input = node.input!.map((i) => (i === input ? out : i));
  }

  private insertQdq(tensor: string, producer: NodeProto | undefined, consumers: NodeProto[]): void {
    const p = this.params.get(tensor)!;
    const base = `${tensor}_act`;
    this.addInitializers(
      floatTensor(`${base}_scale`, [], Float32Array.of(p.scale)),
      int8Tensor(`${base}_zero_point`, [], Int8Array.of(p.zeroPoint)),
    );
    const quantized = `${base}_quantized`;
    if (producer) {
      // The producer now writes a private name and the DequantizeLinear takes over the original
      // one, so consumers and graph outputs keep their names.
      const raw = `${tensor}_fp32`;
      producer.output = producer.output!.map((o) => (o === tensor ? raw : o));
      this.added.push(quantizeNode(raw, base, quantized), dequantizeNode(quantized, base, tensor));
    } else {
      const out = `${base}_dequantized`;
      this.added.push(quantizeNode(tensor, base, quantized), dequantizeNode(quantized, base, out));
      for (const c of consumers) c.input = c.input!.map((i) => (i === tensor ? out : i));
    }
  }

  private dequantize(base: string, axis?: number): string {
    const out = `${base}_dequantized`;
    this.added.push(dequantizeNode(`${base}_quantized`, base, out, axis));
    return out;
  }

  private addInitializers(...tensors: TensorProto[]): void {
    for (const t of tensors) {
      this.graph.initializer!.push(t);
      this.inits.set(t.name!, t);
    }
  }
}

function quantizeNode(input: string, base: string, output: string): NodeProto {
  return {
    name: `${base}_QuantizeLinear`,
    opType: 'QuantizeLinear',
    input: [input, `${base}_scale`, `${base}_zero_point`],
    output: [output],
  };
}

function dequantizeNode(input: string, base: string, output: string, axis?: number): NodeProto {
  return {
    name: `${base}_DequantizeLinear`,
    opType: 'DequantizeLinear',
    input: [input, `${base}_scale`, `${base}_zero_point`],
    output: [output],
    attribute: axis === undefined ? [] : [{ name: 'axis', type: 2, i: axis }],
  };
}
