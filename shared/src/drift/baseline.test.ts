import { describe, expect, it } from 'vitest';
import { WindowSketch } from '../sketches/window-sketch.ts';
import { referenceFromWindows } from './baseline.ts';
import { DriftDetector } from './detector.ts';
import { buildReferenceProfile, referenceProfileSchema } from './reference-profile.ts';
import {
  type Corruption,
  SYNTHETIC_CLASSES,
  SYNTHETIC_PREPROCESSING,
  SyntheticCamera,
  syntheticReference,
} from './synthetic.ts';

const { profile, extractor, projection } = syntheticReference();
const dark: Corruption = { brightnessShift: -0.3 };

function window(camera: SyntheticCamera, corruption: Corruption, size: number, binned = true): WindowSketch {
  const w = binned
    ? new WindowSketch({ spec: profile.spec })
    : new WindowSketch({ classes: SYNTHETIC_CLASSES, quantiles: profile.spec.features.map((f) => f.name) });
  for (let i = 0; i < size; i++) w.add(extractor.observe(camera.observe(corruption)));
  return w;
}

/** Alerts over `windows` windows of 60 from the camera, after the detector's sliding set fills. */
function alerts(reference: typeof profile, camera: SyntheticCamera, corruption: Corruption, windows: number) {
  const detector = new DriftDetector(reference);
  let count = 0;
  for (let i = 0; i < windows; i++)
    if (detector.observe(window(camera, corruption, 60)).state === 'alert') count++;
  return count;
}

describe('referenceFromWindows', () => {
  it('makes a changed scope normal again, and still sees the next change', () => {
    const observed = window(new SyntheticCamera(11), dark, 1500);
    const baseline = referenceProfileSchema.parse(referenceFromWindows(profile, observed));
    expect(baseline.fingerprint).toBe(profile.fingerprint); // devices keep binning as before
    expect(baseline.sampleSize).toBe(1500);

    // Against the version's profile the dark scope alarms; against its baseline it does not…
    expect(alerts(profile, new SyntheticCamera(12), dark, 20)).toBeGreaterThan(10);
    expect(alerts(baseline, new SyntheticCamera(13), dark, 40)).toBe(0);
    // …and a scope back to the original light now alarms against the dark baseline.
    expect(alerts(baseline, new SyntheticCamera(14), {}, 20)).toBeGreaterThan(10);
  });

  it('rebuilds bins from windows that carry quantiles instead of bins', () => {
    const observed = window(new SyntheticCamera(21), dark, 1500, false);
    const baseline = referenceProfileSchema.parse(referenceFromWindows(profile, observed));
    const brightness = baseline.features.find((f) => f.name === 'brightness');
    const before = profile.features.find((f) => f.name === 'brightness');
    expect(brightness?.mean).toBeLessThan((before?.mean as number) - 0.1);
    expect(brightness?.proportions.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(alerts(baseline, new SyntheticCamera(22), dark, 40)).toBe(0);
  });

  it('refuses too few samples and windows of another spec', () => {
    expect(() => referenceFromWindows(profile, window(new SyntheticCamera(31), {}, 50))).toThrow(
      /at least 100/,
    );
    const otherCamera = new SyntheticCamera(99);
    const other = buildReferenceProfile({
      preprocessing: SYNTHETIC_PREPROCESSING,
      classes: SYNTHETIC_CLASSES,
      projection,
      observations: Array.from({ length: 500 }, () => otherCamera.observe(dark)),
    });
    const foreign = new WindowSketch({ spec: other.spec });
    for (let i = 0; i < 200; i++) foreign.add(extractor.observe(otherCamera.observe()));
    expect(() => referenceFromWindows(profile, foreign)).toThrow(/cannot rebase/);
  });
});
