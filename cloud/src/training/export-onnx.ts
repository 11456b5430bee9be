import p from 'onnx-proto';
import { float32LittleEndian } from '../datasets/dataset.ts';
import type { CnnWeights } from './network.ts';

const { onnx } = p;

export const ONNX_OPSET = 13;
export const ONNX_IR_VERSION = 8;

export interface OnnxExportOptions {
  /** Stored as the model's doc string and metadata (e.g. dataset version, seed). */
  metadata?: Record<string, string>;
}

/**
 * Writes a trained built-in CNN as an ONNX model following the default model contract: input
 * `input` [batch, C, H, W] float32, outputs `logits` and `probabilities` [batch, classes] and
 * `embedding` [batch, hidden] (the post-ReLU penultimate layer, read by the drift detector).
 * The graph mirrors the trainer layer for layer, so onnxruntime reproduces its outputs.
 */
export function exportCnnToOnnx(weights: CnnWeights, options: OnnxExportOptions = {}): Uint8Array {
  const { architecture, tensors } = weights;
  const { input, kernel, hidden, classes } = architecture;
  const pad = (kernel - 1) / 2;
  const initializer = tensors.map((t) =>
    onnx.TensorProto.create({
      name: t.name,
      dims: t.shape,
      dataType: onnx.TensorProto.DataType.FLOAT,
      rawData: float32LittleEndian(t.values),
    }),
  );
  const nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  const node = (opType: string, inputs: string[], output: string, attributes: AttributeSpec[] = []) => {
    nodes.push(
      onnx.NodeProto.create({
        opType,
        name: `${opType.toLowerCase()}_${nodes.length}`,
        input: inputs,
        output: [output],
        attribute: attributes.map(attribute),
      }),
    );
    return output;
  };

  let x = 'input';
  architecture.convChannels.forEach((_, i) => {
    const name = `conv${i + 1}`;
    x = node('Conv', [x, `${name}.weight`, `${name}.bias`], `${name}.out`, [
      ['kernel_shape', [kernel, kernel]],
      ['pads', [pad, pad, pad, pad]],
      ['strides', [1, 1]],
    ]);
    x = node('MaxPool', [x], `${name}.pool`, [
      ['kernel_shape', [2, 2]],
      ['strides', [2, 2]],
    ]);
    x = node('Relu', [x], `${name}.relu`);
  });
  x = node('Flatten', [x], 'flatten', [['axis', 1]]);
  x = node('Gemm', [x, 'hidden.weight', 'hidden.bias'], 'hidden.out', [['transB', 1]]);
  x = node('Relu', [x], 'embedding');
  x = node('Gemm', [x, 'output.weight', 'output.bias'], 'logits', [['transB', 1]]);
  node('Softmax', [x], 'probabilities', [['axis', 1]]);

  const model = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'edgeloop',
    producerVersion: '0.1.0',
    docString: 'edgeloop built-in CNN',
    metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: onnx.GraphProto.create({
      name: 'edgeloop_cnn',
      node: nodes,
      initializer,
      input: [valueInfo('input', [input.channels, input.height, input.width])],
      output: [
        valueInfo('logits', [classes]),
        valueInfo('probabilities', [classes]),
        valueInfo('embedding', [hidden]),
      ],
    }),
  });
  return onnx.ModelProto.encode(model).finish();
}

type AttributeSpec = [name: string, value: number | number[]];

function attribute([name, value]: AttributeSpec) {
  return Array.isArray(value)
    ? onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: value })
    : onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: value });
}

/** A float32 tensor whose first dimension is the dynamic `batch`. */
function valueInfo(name: string, perSample: number[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: [{ dimParam: 'batch' }, ...perSample.map((dimValue) => ({ dimValue }))] },
      },
    },
  });
}
