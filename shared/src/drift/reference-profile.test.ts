import { describe, expect, it } from 'vitest';
import { EdgeloopError } from '../errors.ts';
import type { FeatureSample } from '../sketches/features.ts';
import { featureCatalogue } from '../sketches/features.ts';
import { QuantileSketch } from '../sketches/quantile-sketch.ts';
import {
  buildReferenceProfile,
  referenceProfileFromSamples,
  referenceProfileSchema,
} from './reference-profile.ts';
import { SYNTHETIC_CLASSES, SYNTHETIC_PREPROCESSING, SyntheticCamera } from './synthetic.ts';

const camera = new SyntheticCamera(1);
const observations = Array.from({ length: 1000 }, () => camera.observe());
const profile = buildReferenceProfile({
  preprocessing: SYNTHETIC_PREPROCESSING,
  classes: SYNTHETIC_CLASSES,
  projection: { seed: 7, dims: 4 },
  observations,
});

describe('buildReferenceProfile', () => {
  it('bins every feature at its deciles, so each bin holds about a tenth of the validation set', () => {
    expect(profile.spec.features.map((f) => f.name)).toEqual(
      featureCatalogue({ channels: 1, projectionDims: 4 }).map((f) => f.name),
    );
    for (const f of profile.features) {
      expect(f.count).toBe(1000);
      expect(f.proportions.reduce((s, p) => s + p, 0)).toBeCloseTo(1, 12);
      for (const p of f.proportions) expect(p).toBeGreaterThan(0);
      // Continuous features split exactly into tenths; a point mass (a projection of an all-zero
      // ReLU embedding is exactly 0) shifts the bins around it.
      if (f.kind !== 'embedding') for (const p of f.proportions) expect(p).toBe(0.1);
      expect(f.min).toBeLessThanOrEqual(f.mean);
      expect(f.mean).toBeLessThanOrEqual(f.max);
    }
    expect(profile.sampleSize).toBe(1000);
    expect(profile.classDistribution.reduce((s, p) => s + p, 0)).toBeCloseTo(1, 12);
    expect(profile.spec.projection).toEqual({ seed: 7, dims: 4 });
  });

  it('keeps a quantile sketch per feature that agrees with the edges', () => {
    for (const [i, f] of profile.features.entries()) {
      const sketch = QuantileSketch.decode(f.quantiles);
      expect(sketch.count).toBe(f.count);
      const edges = profile.spec.features[i]?.edges ?? [];
      if (edges.length < 9) continue; // tied deciles were merged, so edge 4 is not the median
      // Edge 4 is the value at rank 500 of 1,000; the sketch's quantile q reads rank ⌊q·999⌋.
      const median = edges[4] as number;
      expect(Math.abs(sketch.quantile(500.5 / 999) - median)).toBeLessThanOrEqual(
        0.01 * Math.abs(median) + 1e-9,
      );
    }
  });

  it('is JSON: it survives stringify → parse → schema unchanged, and the schema catches tampering', () => {
    const back = referenceProfileSchema.parse(JSON.parse(JSON.stringify(profile)));
    expect(back).toEqual(profile);
    const tampered = structuredClone(profile);
    tampered.spec.features[0]?.edges.splice(0, 1, -1);
    expect(referenceProfileSchema.safeParse(tampered).success).toBe(false);
    const misaligned = structuredClone(profile);
    misaligned.features[0]?.proportions.pop();
    expect(referenceProfileSchema.safeParse(misaligned).success).toBe(false);
    expect(referenceProfileSchema.safeParse({ ...profile, v: 2 }).success).toBe(false);
  });

  it('merges tied deciles instead of making empty bins, and leaves out features nobody measured', () => {
    const samples: FeatureSample[] = Array.from({ length: 200 }, (_, i) => ({
      values: { brightness: 0.5, confidence: i < 150 ? 1 : i / 200 },
      predictedClass: i % 2,
    }));
    const p = referenceProfileFromSamples(samples, featureCatalogue({ channels: 1, projectionDims: 2 }), {
      classes: 2,
      projection: { seed: 1, dims: 2 },
    });
    expect(p.spec.features.map((f) => f.name)).toEqual(['brightness', 'confidence']);
    expect(p.spec.features[0]?.edges).toEqual([0.5]);
    expect(p.features[0]?.proportions).toEqual([0, 1]);
    expect(p.spec.features[1]?.edges.at(-1)).toBe(1);
    expect(p.spec.projection).toBeNull(); // no embedding features, so no projection to ship
    expect(p.classDistribution).toEqual([0.5, 0.5]);
  });

  it('refuses a validation set too small for deciles', () => {
    const tiny = observations.slice(0, 50);
    expect(() =>
      buildReferenceProfile({ preprocessing: SYNTHETIC_PREPROCESSING, classes: 10, observations: tiny }),
    ).toThrow(EdgeloopError);
  });
});
