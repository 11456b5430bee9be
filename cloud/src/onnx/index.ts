export { type AttributeValue, type Dim, float, GraphBuilder } from './builder.ts';
export {
  type AttributeProto,
  cloneModel,
  decodeModel,
  encodeModel,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  onnx,
  type TensorProto,
  type ValueInfoProto,
} from './codec.ts';
export { type OnnxErrorCode, OnnxFormatError } from './errors.ts';
export {
  attribute,
  attributeFloat,
  attributeInt,
  attributeInts,
  consumerMap,
  initializerMap,
  nameNodes,
  opsetVersion,
  producerMap,
  runtimeInputs,
  topologicalOrder,
} from './graph.ts';
export {
  declaredDims,
  detectImageInput,
  type ImageInput,
  type ImageLayout,
  toLayout,
} from './image-input.ts';
export {
  createSession,
  type InferenceSession,
  imageTensor,
  type SessionConfigEntries,
  type SessionSettings,
  toExtraOptions,
} from './runtime.ts';
export {
  DataType,
  elementCount,
  floatTensor,
  int8Tensor,
  int32Tensor,
  int64Tensor,
  tensorDims,
  tensorToFloat32,
  tensorToInt8,
  tensorToInts,
  toNumber,
} from './tensor.ts';
