// Test helpers for samples: batches with real float32 tensors, as an agent would send them.
import type { Sample, SampleBatch } from '@edgeloop/shared';

/** float32 little-endian bytes, base64: the wire encoding of a tensor. */
export function encodeTensor(values: readonly number[]): string {
  const bytes = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => {
    bytes.writeFloatLE(v, i * 4);
  });
  return bytes.toString('base64');
}

export function testSample(id: string, overrides: Partial<Sample> = {}): Sample {
  const shape = [1, 1, 2, 2];
  return {
    id,
    capturedAt: 1_900_000_000_000,
    windowSeq: 7,
    model: { name: 'digits', version: '1', variant: 'int8', sha256: 'ab'.repeat(32) },
    prediction: { classIndex: 1, confidence: 0.42 },
    reason: 'low-confidence',
    tensor: { shape, data: encodeTensor([0, 0.25, 0.5, 1]) },
    ...overrides,
  };
}

export function testBatch(deviceId: string, samples: Sample[]): SampleBatch {
  return { v: 1, deviceId, samples };
}
