import { describe, expect, it } from 'vitest';
import { trimToPercentile } from './calibrate.ts';
import {
  affineParams,
  dequantizePerChannel,
  quantizeAffine,
  quantizeBiasInt32,
  quantizeSymmetricPerChannel,
  quantizeSymmetricPerTensor,
} from './int8.ts';

describe('int8 arithmetic', () => {
  it('per-channel symmetric weights: one scale per output channel, error within half a step', () => {
    // [2 channels, 3] with very different ranges per channel
    const w = Float32Array.from([0.01, -0.015, 0.005, 5, -3, 1]);
    const q = quantizeSymmetricPerChannel(w, [2, 3], 0);
    expect(q.scales[0]).toBeCloseTo(0.015 / 127, 8);
    expect(q.scales[1]).toBeCloseTo(5 / 127, 6);
    expect(Math.max(...q.values.map(Math.abs))).toBe(127);
    const back = dequantizePerChannel(q, [2, 3], 0);
    for (const [i, v] of w.entries()) {
      expect(Math.abs(back[i]! - v)).toBeLessThanOrEqual(q.scales[i < 3 ? 0 : 1]! / 2 + 1e-9);
    }
    // the small channel would be all zeros per-tensor: per-channel is the point
    expect(Array.from(quantizeSymmetricPerTensor(w).values.slice(0, 3))).toEqual([0, 0, 0]);
  });

  it('per-channel along axis 1 (MatMul [K, N] weights)', () => {
    const w = Float32Array.from([1, 100, -1, -100]); // [2, 2]: column 0 small, column 1 large
    const q = quantizeSymmetricPerChannel(w, [2, 2], 1);
    expect(Array.from(q.values)).toEqual([127, 127, -127, -127]);
  });

  it('affine params represent zero exactly and cover the range', () => {
    const p = affineParams(0, 6);
    expect(p.zeroPoint).toBe(-128);
    expect(Array.from(quantizeAffine(Float32Array.of(0, 6, 7), p))).toEqual([-128, 127, 127]);
    const q = affineParams(-1, 3);
    expect(quantizeAffine(Float32Array.of(0), q)[0]).toBe(q.zeroPoint);
    expect(affineParams(0, 0).scale).toBeGreaterThan(0);
  });

  it('int32 bias carries input scale × weight scale', () => {
    const { values, scales } = quantizeBiasInt32(Float32Array.of(0.5, -1), 0.1, Float32Array.of(0.01, 0.02));
    expect(scales[0]).toBeCloseTo(0.001, 8);
    expect(Array.from(values)).toEqual([500, -500]);
  });

  it('percentile trimming drops rare outliers but keeps the bulk', () => {
    const h = new Float64Array(100);
    h.fill(100, 0, 50); // bulk in [0, 50)
    h[99] = 1; // one outlier near 100
    const trimmed = trimToPercentile({ min: 0, max: 100 }, h, 99.9);
    expect(trimmed.max).toBeLessThanOrEqual(51);
    expect(trimmed.min).toBe(0);
    expect(trimToPercentile({ min: 0, max: 100 }, h, 100)).toEqual({ min: 0, max: 100 });
  });
});
