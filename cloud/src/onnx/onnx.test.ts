import { describe, expect, it } from 'vitest';
import {
  createSession,
  DataType,
  decodeModel,
  detectImageInput,
  encodeModel,
  float,
  floatTensor,
  GraphBuilder,
  imageTensor,
  int8Tensor,
  OnnxFormatError,
  onnx,
  tensorToFloat32,
  tensorToInt8,
  tensorToInts,
  toExtraOptions,
  toLayout,
  topologicalOrder,
} from './index.ts';

function tinyCnn(inputDims: (number | string)[] = ['N', 1, 4, 4]) {
  const b = new GraphBuilder({ opset: 13 });
  const x = b.input('input', inputDims);
  const w = b.initializer(
    'w',
    [2, 1, 3, 3],
    Float32Array.from({ length: 18 }, (_, i) => (i - 9) / 10),
  );
  const c = b.node('Conv', [x, w], { pads: [1, 1, 1, 1] });
  const r = b.node('Relu', [c]);
  const g = b.node('GlobalAveragePool', [r]);
  b.output(b.node('Flatten', [g], { axis: 1 }, 'logits'), ['N', 2]);
  return b.toBytes();
}

function expectCode(fn: () => unknown, code: string, message: RegExp) {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(OnnxFormatError);
    expect((e as OnnxFormatError).code).toBe(code);
    expect((e as Error).message).toMatch(message);
    return;
  }
  throw new Error(`expected ${code}`);
}

describe('decodeModel', () => {
  it('round-trips a built model and it runs in onnxruntime', async () => {
    const bytes = tinyCnn();
    const model = decodeModel(bytes);
    expect(model.graph?.node).toHaveLength(4);
    expect(encodeModel(model)).toEqual(bytes);
    const session = await createSession(bytes);
    const out = await session.run({ input: imageTensor(new Float32Array(16).fill(1), [1, 1, 4, 4]) });
    expect(out.logits?.dims).toEqual([1, 2]);
  });

  it('rejects garbage, text and empty files as not a model', () => {
    const garbage = Uint8Array.from({ length: 512 }, (_, i) => (i * 7919 + 13) % 251);
    expectCode(() => decodeModel(garbage), 'ONNX_NOT_A_MODEL', /Not an ONNX model/);
    expectCode(
      () => decodeModel(new TextEncoder().encode('{"hello": "world"}')),
      'ONNX_NOT_A_MODEL',
      /Not an ONNX/,
    );
    expectCode(() => decodeModel(new Uint8Array()), 'ONNX_NOT_A_MODEL', /empty/);
  });

  it('reports a truncated model as truncated, wherever it is cut', () => {
    const bytes = tinyCnn();
    for (const keep of [0.3, 0.5, 0.9, 0.99]) {
      const cut = bytes.slice(0, Math.floor(bytes.length * keep));
      expectCode(() => decodeModel(cut), 'ONNX_TRUNCATED', /truncated/);
    }
  });

  it('rejects a graph whose node reads an undefined tensor', () => {
    const model = decodeModel(tinyCnn());
    model.graph!.node![1]!.input = ['nowhere'];
    expectCode(() => decodeModel(encodeModel(model)), 'ONNX_INVALID_GRAPH', /'nowhere'/);
  });

  it('wraps a model onnxruntime refuses', async () => {
    const model = decodeModel(tinyCnn());
    model.graph!.node![0]!.opType = 'NoSuchOp';
    await expect(createSession(encodeModel(model))).rejects.toMatchObject({ code: 'ONNX_RUNTIME_REJECTED' });
  });
});

describe('tensors', () => {
  it('reads float from raw_data and float_data, int8 and int64', () => {
    const data = Float32Array.from([1.5, -2, 3.25]);
    expect(tensorToFloat32(floatTensor('a', [3], data))).toEqual(data);
    expect(
      tensorToFloat32({ name: 'b', dims: [3], dataType: DataType.FLOAT, floatData: [1.5, -2, 3.25] }),
    ).toEqual(data);
    const q = Int8Array.from([-128, 0, 127]);
    expect(tensorToInt8(int8Tensor('q', [3], q))).toEqual(q);
    expect(tensorToInts({ name: 's', dims: [2], dataType: DataType.INT64, int64Data: [1, -1] })).toEqual([
      1, -1,
    ]);
    // survives an encode/decode round trip (rawData then views into the decoded buffer at an offset)
    const decoded = onnx.TensorProto.decode(onnx.TensorProto.encode(floatTensor('a', [3], data)).finish());
    expect(tensorToFloat32(decoded)).toEqual(data);
  });

  it('rejects a tensor whose data does not match its dims', () => {
    expectCode(
      () => tensorToFloat32({ name: 'w', dims: [4], dataType: DataType.FLOAT, floatData: [1, 2] }),
      'ONNX_UNSUPPORTED_TENSOR',
      /'w' holds 2 values/,
    );
  });
});

describe('graph helpers', () => {
  it('orders nodes topologically even when stored out of order', () => {
    const model = decodeModel(tinyCnn());
    model.graph!.node!.reverse();
    expect(topologicalOrder(model.graph!).map((n) => n.opType)).toEqual([
      'Conv',
      'Relu',
      'GlobalAveragePool',
      'Flatten',
    ]);
  });
});

describe('detectImageInput', () => {
  it('finds NCHW and NHWC image inputs', () => {
    expect(detectImageInput(decodeModel(tinyCnn()))).toEqual({
      name: 'input',
      layout: 'NCHW',
      channels: 1,
      height: 4,
      width: 4,
      batch: null,
    });
    const b = new GraphBuilder();
    const x = b.input('image', [1, 32, 24, 3]);
    b.output(b.node('Transpose', [x], { perm: [0, 3, 1, 2] }, 'y'));
    expect(detectImageInput(b.toModel())).toMatchObject({
      layout: 'NHWC',
      channels: 3,
      height: 32,
      width: 24,
      batch: 1,
    });
  });

  it('rejects inputs that are not an image tensor, naming the shape', () => {
    const flat = new GraphBuilder();
    flat.output(flat.node('Relu', [flat.input('input', ['N', 100])], {}, 'y'));
    expectCode(() => detectImageInput(flat.toModel()), 'ONNX_UNSUPPORTED_INPUT', /\["N",100\].*4-D image/);
    expectCode(
      () => detectImageInput(decodeModel(tinyCnn(['N', 5, 4, 4]))),
      'ONNX_UNSUPPORTED_INPUT',
      /channels/,
    );
    expectCode(
      () => detectImageInput(decodeModel(tinyCnn(['N', 1, 'H', 'W']))),
      'ONNX_UNSUPPORTED_INPUT',
      /fixed/,
    );
    const ints = new GraphBuilder();
    ints.output(ints.node('Identity', [ints.input('input', ['N', 1, 4, 4], DataType.INT64)], {}, 'y'));
    expectCode(() => detectImageInput(ints.toModel()), 'ONNX_UNSUPPORTED_INPUT', /INT64/);
  });

  it('converts NCHW data to NHWC', () => {
    const nchw = Float32Array.from([1, 2, 3, 4, 10, 20, 30, 40]); // 1 image, 2 channels, 2x2
    expect(Array.from(toLayout(nchw, 1, { channels: 2, height: 2, width: 2 }, 'NHWC'))).toEqual([
      1, 10, 2, 20, 3, 30, 4, 40,
    ]);
  });
});

describe('runtime settings', () => {
  it('nests dotted config keys as onnxruntime-node expects', () => {
    expect(toExtraOptions({ 'session.disable_quant_qdq': '1' })).toEqual({
      session: { disable_quant_qdq: '1' },
    });
    expect(() => toExtraOptions({ nodot: '1' })).toThrow(/section/);
  });

  it('builder float attributes stay floats', () => {
    const b = new GraphBuilder();
    b.output(b.node('LeakyRelu', [b.input('x', [1])], { alpha: float(1) }, 'y'));
    expect(b.toModel().graph!.node![0]!.attribute![0]!.f).toBe(1);
  });
});
