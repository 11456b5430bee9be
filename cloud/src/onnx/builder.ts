import { type AttributeProto, encodeModel, type ModelProto, onnx, type TensorProto } from './codec.ts';
import { AttributeType } from './graph.ts';
import { DataType, floatTensor, int64Tensor } from './tensor.ts';

/** Marks a number as an ONNX float attribute (plain numbers become INT attributes). */
export interface FloatAttribute {
  float: number;
}
export type AttributeValue = number | number[] | string | FloatAttribute | { floats: number[] } | TensorProto;
export type Dim = number | string;

export const float = (value: number): FloatAttribute => ({ float: value });

function toAttribute(name: string, value: AttributeValue): AttributeProto {
  if (typeof value === 'number') return { name, type: AttributeType.INT, i: value };
  if (typeof value === 'string')
    return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value };
  if ('float' in value) return { name, type: AttributeType.FLOAT, f: value.float };
  if ('floats' in value) return { name, type: AttributeType.FLOATS, floats: value.floats };
  return { name, type: AttributeType.TENSOR, t: value };
}

/**
 * Builds small ONNX graphs in code, for tests and for exporters.
 *
 * @example
 * const b = new GraphBuilder({ opset: 13 });
 * const x = b.input('input', ['N', 4]);
 * const y = b.node('MatMul', [x, b.initializer('w', [4, 2], new Float32Array(8).fill(0.5))]);
 * b.output(b.node('Relu', [y], {}, 'logits'), ['N', 2]);
 * const bytes = b.toBytes();
 */
export class GraphBuilder {
  private readonly model: ModelProto;
  private counter = 0;

  constructor(options: { opset?: number; irVersion?: number; name?: string } = {}) {
    const opset = options.opset ?? 13;
    // IR 7 is what onnx writes for opsets 12–14; IR 8 from opset 15 on.
    const irVersion = options.irVersion ?? (opset >= 15 ? 8 : opset >= 12 ? 7 : 6);
    this.model = onnx.ModelProto.create({
      irVersion,
      producerName: 'edgeloop',
      opsetImport: [{ domain: '', version: opset }],
      graph: { name: options.name ?? 'graph', node: [], initializer: [], input: [], output: [] },
    });
  }

  private get graph() {
    return this.model.graph!;
  }

  input(name: string, dims: Dim[], elemType: number = DataType.FLOAT): string {
    this.graph.input!.push(valueInfo(name, dims, elemType));
    return name;
  }

  output(name: string, dims?: Dim[], elemType: number = DataType.FLOAT): string {
    this.graph.output!.push(valueInfo(name, dims, elemType));
    return name;
  }

  initializer(name: string, dims: number[], data: Float32Array): string {
    this.graph.initializer!.push(floatTensor(name, dims, data));
    return name;
  }

  int64Initializer(name: string, values: number[]): string {
    this.graph.initializer!.push(int64Tensor(name, [values.length], values));
    return name;
  }

  /** Adds a node and returns its first output's name (given, or generated from the op type). */
  node(
    opType: string,
    inputs: string[],
    attributes: Record<string, AttributeValue> = {},
    output?: string,
  ): string {
    return this.nodeWithOutputs(opType, inputs, attributes, [
      output ?? `${opType.toLowerCase()}_${this.counter}`,
    ])[0]!;
  }

  nodeWithOutputs(
    opType: string,
    inputs: string[],
    attributes: Record<string, AttributeValue>,
    outputs: string[],
  ): string[] {
    this.graph.node!.push({
      name: `${opType}_${this.counter++}`,
      opType,
      input: inputs,
      output: outputs,
      attribute: Object.entries(attributes).map(([k, v]) => toAttribute(k, v)),
    });
    return outputs;
  }

  toModel(): ModelProto {
    return onnx.ModelProto.decode(encodeModel(this.model));
  }

  toBytes(): Uint8Array {
    return encodeModel(this.model);
  }
}

function valueInfo(name: string, dims: Dim[] | undefined, elemType: number) {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        ...(dims
          ? { shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } }
          : {}),
      },
    },
  };
}
