import { describe, expect, it } from 'vitest';
import { compareDrift, type FeatureDrift } from './evaluation.ts';

const feature = (name: string, over: Partial<FeatureDrift>): FeatureDrift => ({
  feature: name,
  kind: 'input',
  source: 'bins',
  samples: 300,
  psi: 1,
  ks: 0.5,
  ksCritical: 0.15,
  js: null,
  pValue: null,
  severity: 5,
  level: 'alert',
  ...over,
});

describe('compareDrift (the order a report names drifted features in)', () => {
  it('puts higher levels first, then larger effect sizes', () => {
    const ranked = [
      feature('warned', { level: 'warn', severity: 9 }),
      feature('small', { severity: 1.5 }),
      feature('large', { severity: 3 }),
    ].sort(compareDrift);
    expect(ranked.map((f) => f.feature)).toEqual(['large', 'small', 'warned']);
  });

  it('breaks a tie of saturated PSI by the KS distance', () => {
    const ranked = [
      feature('entropy', { severity: 28.1, ks: 0.61 }),
      feature('brightness', { severity: 28.1, ks: 0.97 }),
      feature('sharpness', { severity: 28.1 + 1e-9, ks: 0.8 }),
    ].sort(compareDrift);
    expect(ranked.map((f) => f.feature)).toEqual(['brightness', 'sharpness', 'entropy']);
  });
});
