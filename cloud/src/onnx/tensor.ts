import { onnx, type TensorProto } from './codec.ts';
import { OnnxFormatError } from './errors.ts';

export const DataType = onnx.TensorProto.DataType;

/** protobufjs decodes int64 fields as Long when the long package is present, else as number. */
export function toNumber(value: number | { toNumber(): number } | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

export function tensorDims(t: TensorProto): number[] {
  return (t.dims ?? []).map(toNumber);
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function rawView(t: TensorProto): DataView | null {
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || (t.externalData ?? []).length > 0) {
    throw new OnnxFormatError(
      'ONNX_UNSUPPORTED_TENSOR',
      `Tensor '${t.name}' keeps its data in an external file; embed the weights in the .onnx file`,
    );
  }
  const raw = t.rawData;
  if (!raw || raw.length === 0) return null;
  return new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
}

function checkLength(t: TensorProto, got: number): void {
  const want = elementCount(tensorDims(t));
  if (got !== want) {
    throw new OnnxFormatError(
      'ONNX_UNSUPPORTED_TENSOR',
      `Tensor '${t.name}' holds ${got} values but its dims ${JSON.stringify(tensorDims(t))} need ${want} (corrupted?)`,
    );
  }
}

/** Reads a FLOAT or DOUBLE tensor (raw_data or float_data/double_data) into a Float32Array. */
export function tensorToFloat32(t: TensorProto): Float32Array {
  const view = rawView(t);
  let out: Float32Array;
  if (t.dataType === DataType.FLOAT) {
    if (view) {
      out = new Float32Array(view.byteLength / 4);
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
    } else out = Float32Array.from(t.floatData ?? []);
  } else if (t.dataType === DataType.DOUBLE) {
    if (view) {
      out = new Float32Array(view.byteLength / 8);
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(i * 8, true);
    } else out = Float32Array.from(t.doubleData ?? []);
  } else {
    throw new OnnxFormatError(
      'ONNX_UNSUPPORTED_TENSOR',
      `Tensor '${t.name}' has data type ${DataType[t.dataType ?? 0]}, expected FLOAT`,
    );
  }
  checkLength(t, out.length);
  return out;
}

/** Reads an INT8 tensor (raw_data or int32_data, where ONNX stores small ints widened). */
export function tensorToInt8(t: TensorProto): Int8Array {
  if (t.dataType !== DataType.INT8) {
    throw new OnnxFormatError('ONNX_UNSUPPORTED_TENSOR', `Tensor '${t.name}' is not INT8`);
  }
  const view = rawView(t);
  const out = view
    ? new Int8Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength))
    : Int8Array.from(t.int32Data ?? []);
  checkLength(t, out.length);
  return out;
}

/** Reads INT64 or INT32 tensors (shapes, axes) as plain numbers. */
export function tensorToInts(t: TensorProto): number[] {
  const view = rawView(t);
  const out: number[] = [];
  if (t.dataType === DataType.INT64) {
    if (view) for (let i = 0; i < view.byteLength / 8; i++) out.push(Number(view.getBigInt64(i * 8, true)));
    else for (const v of t.int64Data ?? []) out.push(toNumber(v));
  } else if (t.dataType === DataType.INT32) {
    if (view) for (let i = 0; i < view.byteLength / 4; i++) out.push(view.getInt32(i * 4, true));
    else out.push(...(t.int32Data ?? []));
  } else {
    throw new OnnxFormatError('ONNX_UNSUPPORTED_TENSOR', `Tensor '${t.name}' is not an integer tensor`);
  }
  checkLength(t, out.length);
  return out;
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
}

// raw_data is little-endian by the ONNX spec; typed arrays use the host order, little-endian on every
// platform we target (x64, arm64).
export function floatTensor(name: string, dims: readonly number[], data: Float32Array): TensorProto {
  if (data.length !== elementCount(dims)) throw new RangeError(`floatTensor ${name}: length/dims mismatch`);
  return { name, dims: [...dims], dataType: DataType.FLOAT, rawData: bytesOf(data) };
}

export function int8Tensor(name: string, dims: readonly number[], data: Int8Array): TensorProto {
  if (data.length !== elementCount(dims)) throw new RangeError(`int8Tensor ${name}: length/dims mismatch`);
  return { name, dims: [...dims], dataType: DataType.INT8, rawData: bytesOf(data) };
}

export function int32Tensor(name: string, dims: readonly number[], data: Int32Array): TensorProto {
  if (data.length !== elementCount(dims)) throw new RangeError(`int32Tensor ${name}: length/dims mismatch`);
  return { name, dims: [...dims], dataType: DataType.INT32, rawData: bytesOf(data) };
}

export function int64Tensor(name: string, dims: readonly number[], data: readonly number[]): TensorProto {
  if (data.length !== elementCount(dims)) throw new RangeError(`int64Tensor ${name}: length/dims mismatch`);
  return {
    name,
    dims: [...dims],
    dataType: DataType.INT64,
    rawData: bytesOf(BigInt64Array.from(data.map(BigInt))),
  };
}
