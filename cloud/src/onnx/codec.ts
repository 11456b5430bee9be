import p from 'onnx-proto';
import { OnnxFormatError } from './errors.ts';

// onnx-proto is CommonJS; its namespace object carries the generated protobuf classes.
export const { onnx } = p;
export type ModelProto = p.onnx.ModelProto;
export type GraphProto = p.onnx.IGraphProto;
export type NodeProto = p.onnx.INodeProto;
export type TensorProto = p.onnx.ITensorProto;
export type ValueInfoProto = p.onnx.IValueInfoProto;
export type AttributeProto = p.onnx.IAttributeProto;

// Every serialized ModelProto starts with field 1 (ir_version, varint): tag byte 0x08. Used to tell a
// truncated model from bytes that were never a model when the protobuf decoder runs out of input.
const MODEL_FIRST_TAG = 0x08;

/**
 * Decodes ONNX bytes into a ModelProto and checks the structure the rest of the pipeline relies on
 * (a graph with nodes, an opset, every node input defined). Throws OnnxFormatError naming the problem.
 */
export function decodeModel(bytes: Uint8Array): ModelProto {
  if (bytes.length === 0)
    throw new OnnxFormatError('ONNX_NOT_A_MODEL', 'Not an ONNX model: the file is empty');
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (cause) {
    const ranOut = cause instanceof RangeError || /index out of range/i.test(String(cause));
    if (ranOut && bytes[0] === MODEL_FIRST_TAG) {
      throw new OnnxFormatError(
        'ONNX_TRUNCATED',
        `ONNX model is truncated or corrupted: the data ends inside a field (${bytes.length} bytes read)`,
        { cause },
      );
    }
    throw new OnnxFormatError(
      'ONNX_NOT_A_MODEL',
      `Not an ONNX model: the bytes are not a protobuf ModelProto (${String(cause)})`,
      { cause },
    );
  }
  if (bytes[0] !== MODEL_FIRST_TAG || !model.graph) {
    throw new OnnxFormatError('ONNX_NOT_A_MODEL', 'Not an ONNX model: no ir_version/graph found in the file');
  }
  if ((model.graph.node ?? []).length === 0) {
    throw new OnnxFormatError('ONNX_INVALID_GRAPH', 'ONNX model has an empty graph (no nodes); truncated?');
  }
  if ((model.opsetImport ?? []).length === 0) {
    throw new OnnxFormatError(
      'ONNX_TRUNCATED',
      'ONNX model has no opset_import; the file is truncated or was written incompletely',
    );
  }
  checkNodeInputsDefined(model.graph);
  return model;
}

export function encodeModel(model: p.onnx.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

/** Deep copy, so passes that rewrite a graph never mutate their caller's model. */
export function cloneModel(model: ModelProto): ModelProto {
  return onnx.ModelProto.decode(encodeModel(model));
}

function checkNodeInputsDefined(graph: GraphProto): void {
  const defined = new Set<string>(['']);
  for (const i of graph.input ?? []) defined.add(i.name ?? '');
  for (const t of graph.initializer ?? []) defined.add(t.name ?? '');
  for (const n of graph.node ?? []) for (const o of n.output ?? []) defined.add(o);
  for (const n of graph.node ?? []) {
    for (const i of n.input ?? []) {
      if (!defined.has(i)) {
        throw new OnnxFormatError(
          'ONNX_INVALID_GRAPH',
          `ONNX graph is inconsistent: node '${n.name || n.opType}' reads '${i}', which nothing defines (corrupted?)`,
        );
      }
    }
  }
}
