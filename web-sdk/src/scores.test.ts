import { describe, expect, it } from 'vitest';
import { probabilitiesFrom, softmax, topK } from './scores.ts';

describe('scores', () => {
  it('softmax is stable for large logits and sums to 1', () => {
    const p = softmax(Float32Array.of(1000, 1001, 999));
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(p[1]).toBeCloseTo(Math.exp(1) / (1 + Math.exp(1) + Math.exp(-1)), 6);
  });

  it('uses probabilities as they are and softmaxes logits', () => {
    const classes = ['a', 'b'];
    const probs = probabilitiesFrom(
      { p: Float32Array.of(0.25, 0.75) },
      { classes, outputs: [{ name: 'p', shape: [1, 2], dtype: 'float32', role: 'probabilities' }] },
    );
    expect(Array.from(probs)).toEqual([0.25, 0.75]);
    const fromLogits = probabilitiesFrom(
      { l: Float32Array.of(0, 0) },
      { classes, outputs: [{ name: 'l', shape: [1, 2], dtype: 'float32', role: 'logits' }] },
    );
    expect(Array.from(fromLogits)).toEqual([0.5, 0.5]);
  });

  it('refuses outputs that do not match the manifest', () => {
    const outputs = [{ name: 'l', shape: [1, 3], dtype: 'float32' as const, role: 'logits' as const }];
    expect(() =>
      probabilitiesFrom({ l: Float32Array.of(1, 2) }, { classes: ['a', 'b', 'c'], outputs }),
    ).toThrow(/2 values for 3 classes/);
    expect(() => probabilitiesFrom({}, { classes: ['a', 'b', 'c'], outputs })).toThrow(
      /no probabilities or logits/,
    );
  });

  it('top-k orders by confidence, ties by class index, and clamps k', () => {
    const best = topK(Float32Array.of(0.2, 0.5, 0.2, 0.1), ['w', 'x', 'y', 'z'], 3);
    expect(best.map((s) => s.label)).toEqual(['x', 'w', 'y']);
    expect(topK(Float32Array.of(0.6, 0.4), ['a', 'b'], 10)).toHaveLength(2);
    expect(topK(Float32Array.of(0.6, 0.4), ['a', 'b'], 0)).toHaveLength(1);
  });
});
