import { type Sample, sampleBatchPayload } from '@edgeloop/shared';
import { describe, expect, it } from 'vitest';
import { approximateBytes, MAX_BATCH_SAMPLES, SampleQueue } from './sample-queue.ts';

const model = { name: 'digits', version: '1', variant: 'fp32' as const, sha256: 'a'.repeat(64) };

/** A valid sample whose tensor text is `chars` long (a multiple of 4; the shape is not checked here). */
function sample(n: number, chars = 8): Sample {
  return {
    id: `s-${n}`,
    capturedAt: 1_700_000_000_000 + n,
    model,
    prediction: { classIndex: 1, confidence: 0.4 },
    reason: n % 2 ? 'random' : 'low-confidence',
    tensor: { shape: [1, 2], data: 'A'.repeat(chars) },
  };
}

describe('SampleQueue', () => {
  it('drops the oldest samples past its count bound and says which', () => {
    const queue = new SampleQueue(3, 1024 * 1024);
    const dropped = [0, 1, 2, 3, 4].flatMap((n) => queue.push(sample(n)).map((s) => s.id));
    expect(dropped).toEqual(['s-0', 's-1']);
    expect(queue.length).toBe(3);
    const next = queue.nextBatch('cam-1');
    expect(next.kind === 'batch' && next.samples.map((s) => s.id)).toEqual(['s-2', 's-3', 's-4']);
    expect(queue.length).toBe(0);
    expect(queue.bytes).toBe(0);
  });

  it('drops the oldest past its byte bound, but always keeps the newest sample', () => {
    const big = sample(0, 4000);
    const queue = new SampleQueue(100, approximateBytes(big) * 2);
    expect(queue.push(big)).toEqual([]);
    expect(queue.push(sample(1, 4000))).toEqual([]);
    expect(queue.push(sample(2, 4000)).map((s) => s.id)).toEqual(['s-0']);
    const tiny = new SampleQueue(10, 10);
    expect(tiny.push(sample(3, 4000))).toEqual([]);
    expect(tiny.length).toBe(1);
  });

  it('cuts batches of at most 32 samples, each a valid payload', () => {
    const queue = new SampleQueue(100, 10 * 1024 * 1024);
    for (let n = 0; n < 70; n++) queue.push(sample(n));
    const sizes: number[] = [];
    for (let next = queue.nextBatch('cam-1'); next.kind === 'batch'; next = queue.nextBatch('cam-1')) {
      const decoded = sampleBatchPayload.decode(next.payload);
      expect(decoded.ok && decoded.value.samples.length).toBe(next.samples.length);
      sizes.push(next.samples.length);
    }
    expect(sizes).toEqual([MAX_BATCH_SAMPLES, MAX_BATCH_SAMPLES, 6]);
  });

  it('halves a batch until it fits the 512 KiB message limit', () => {
    const queue = new SampleQueue(10, 10 * 1024 * 1024);
    for (let n = 0; n < 5; n++) queue.push(sample(n, 199_996)); // ~200 kB each: two fit a message
    const sizes: number[] = [];
    for (let next = queue.nextBatch('cam-1'); next.kind === 'batch'; next = queue.nextBatch('cam-1')) {
      expect(next.payload.byteLength).toBeLessThanOrEqual(sampleBatchPayload.maxBytes);
      sizes.push(next.samples.length);
    }
    expect(sizes).toEqual([2, 2, 1]);
  });

  it('drops a batch the encoder refuses instead of retrying it forever', () => {
    const queue = new SampleQueue(10, 1024 * 1024);
    queue.push({ ...sample(0), id: 'not valid!' });
    queue.push(sample(1));
    const next = queue.nextBatch('cam-1');
    expect(next.kind).toBe('invalid');
    expect(next.kind === 'invalid' && next.error.message).toMatch(/id/);
    expect(queue.length).toBe(0);
    expect(queue.nextBatch('cam-1')).toEqual({ kind: 'empty' });
  });
});
