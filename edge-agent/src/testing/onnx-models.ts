// Tiny ONNX models built in tests (never imported by the agent itself): a linear classifier whose
// weights the test chooses, so expected outputs can be computed by hand.
import p from 'onnx-proto';

const { onnx } = p;

export interface LinearModelOptions {
  /** Input dims; a string is a symbolic dim (e.g. "batch"). */
  inputShape: (number | string)[];
  /** Row-major weights [features × classes]; features = product of the numeric input dims. */
  weights: Float32Array;
  bias: Float32Array;
  /** Which outputs the graph exposes, in this order. */
  outputs: ('logits' | 'probabilities' | 'embedding')[];
  opset?: number;
}

function floatTensor(name: string, dims: number[], values: Float32Array): p.onnx.ITensorProto {
  return onnx.TensorProto.create({
    name,
    dims,
    dataType: onnx.TensorProto.DataType.FLOAT,
    rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
  });
}

function valueInfo(name: string, dims: (number | string)[]): p.onnx.IValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
}

/** input → Flatten → MatMul(W) + b = logits; Softmax(logits) = probabilities; embedding = flattened input. */
export function linearClassifierModel(options: LinearModelOptions): Uint8Array {
  const features = options.inputShape
    .filter((d): d is number => typeof d === 'number')
    .reduce((a, b) => a * b, 1);
  const classes = options.bias.length;
  if (options.weights.length !== features * classes)
    throw new RangeError('weights must be features × classes');
  const batch = options.inputShape[0] ?? 1;
  const nodes: p.onnx.INodeProto[] = [
    { opType: 'Flatten', input: ['input'], output: ['flat'], attribute: [{ name: 'axis', i: 1, type: 2 }] },
    { opType: 'MatMul', input: ['flat', 'W'], output: ['mm'] },
    { opType: 'Add', input: ['mm', 'b'], output: ['logits_raw'] },
    { opType: 'Identity', input: ['logits_raw'], output: ['logits'] },
    {
      opType: 'Softmax',
      input: ['logits_raw'],
      output: ['probabilities'],
      attribute: [{ name: 'axis', i: 1, type: 2 }],
    },
    { opType: 'Identity', input: ['flat'], output: ['embedding'] },
  ].filter(
    (n) =>
      n.output[0] === 'flat' ||
      n.output[0] === 'mm' ||
      n.output[0] === 'logits_raw' ||
      options.outputs.includes(n.output[0] as 'logits'),
  );
  const graph = onnx.GraphProto.create({
    name: 'linear',
    node: nodes.map((n) => onnx.NodeProto.create(n)),
    initializer: [
      floatTensor('W', [features, classes], options.weights),
      floatTensor('b', [classes], options.bias),
    ],
    input: [valueInfo('input', options.inputShape)],
    output: options.outputs.map((o) => valueInfo(o, [batch, o === 'embedding' ? features : classes])),
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'edgeloop-edge-agent-tests',
    opsetImport: [{ domain: '', version: options.opset ?? 13 }],
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}
