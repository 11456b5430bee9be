import type { ModelRef } from '@edgeloop/shared';
import { describe, expect, it } from 'vitest';
import { evaluateGates, jensenShannon, mergeWindows, TelemetryMemory } from './gates.ts';
import { DEFAULT_GATES } from './policy.ts';
import { telemetryWindow } from './testing.ts';

const V1: ModelRef = { name: 'digits', version: '1', variant: 'int8', sha256: '1'.repeat(64) };
const V2: ModelRef = { name: 'digits', version: '2', variant: 'int8', sha256: '2'.repeat(64) };

describe('evaluateGates', () => {
  const healthy = mergeWindows([telemetryWindow('old', V1, 1, { errors: 1, p95: 10, confidence: 0.9 })]);

  it('passes a new model as healthy as the old one', () => {
    const candidate = mergeWindows([telemetryWindow('new', V2, 1, { errors: 2, p95: 12, confidence: 0.88 })]);
    const results = evaluateGates(DEFAULT_GATES, candidate, healthy);
    expect(results.map((r) => [r.gate, r.verdict])).toEqual([
      ['errorRate', 'pass'],
      ['p95Latency', 'pass'],
      ['confidence', 'pass'],
    ]);
  });

  it('fails each gate past its bound, with a reason naming both sides', () => {
    const candidate = mergeWindows([telemetryWindow('new', V2, 1, { errors: 20, p95: 25, confidence: 0.6 })]);
    const results = evaluateGates(
      { ...DEFAULT_GATES, predictionShift: { maxDivergence: 0.1 } },
      { ...candidate, classCounts: [100, 0] },
      healthy,
    );
    expect(results.every((r) => r.verdict === 'fail')).toBe(true);
    expect(results.map((r) => r.reason)).toEqual([
      'errorRate: error rate 0.200 vs 0.010 on the old model (max +0.05)',
      'p95Latency: p95 latency 25.0 ms vs 10.0 ms (max ×2)',
      'confidence: mean confidence 0.600 vs 0.900 (max drop 0.1)',
      'predictionShift: prediction distribution divergence 0.311 (max 0.1)',
    ]);
  });

  it('is inconclusive, not failing, without enough inferences on either side', () => {
    const thin = mergeWindows([telemetryWindow('new', V2, 1, { inferences: 10, errors: 10 })]);
    const results = evaluateGates(DEFAULT_GATES, thin, healthy);
    expect(results.map((r) => r.verdict)).toEqual(['inconclusive', 'inconclusive', 'inconclusive']);
    expect(results[0]?.reason).toMatch(/too little data \(10 new \/ 100 old inferences, need 50 each\)/);
  });
});

describe('jensenShannon', () => {
  it('is 0 for the same distribution and 1 for disjoint ones', () => {
    expect(jensenShannon([10, 30], [1, 3])).toBeCloseTo(0, 12);
    expect(jensenShannon([5, 0], [0, 5])).toBeCloseTo(1, 12);
    expect(jensenShannon([], [1])).toBe(0);
  });
});

describe('TelemetryMemory', () => {
  it('answers cohorts by device, period and model version', async () => {
    const memory = new TelemetryMemory({ maxWindowsPerDevice: 3 });
    memory.record('a', telemetryWindow('a', V1, 1_000, { errors: 5 }));
    memory.record('a', telemetryWindow('a', V2, 2_000, { errors: 1 }));
    memory.record('b', telemetryWindow('b', V2, 3_000, { errors: 3 }));
    memory.record('c', telemetryWindow('c', V2, 3_000, { errors: 50 }));
    const v2 = await memory.cohortHealth({
      deviceIds: ['a', 'b'],
      since: 1_500,
      until: 5_000,
      model: { name: 'digits', version: '2', match: 'this' },
    });
    expect(v2).toMatchObject({ devices: 2, windows: 2, inferences: 200, errors: 4 });
    const old = await memory.cohortHealth({
      deviceIds: ['a', 'b'],
      since: 0,
      until: 5_000,
      model: { name: 'digits', version: '2', match: 'other' },
    });
    expect(old).toMatchObject({ windows: 1, errors: 5 });
    for (let i = 0; i < 5; i++) memory.record('a', telemetryWindow('a', V2, 10_000 + i, {}));
    const bounded = await memory.cohortHealth({
      deviceIds: ['a'],
      since: 0,
      until: 20_000,
      model: { name: 'digits', version: '2', match: 'this' },
    });
    expect(bounded.windows).toBe(3);
  });
});
