import { describe, expect, it } from 'vitest';
import { SketchError } from '../sketches/errors.ts';
import { WindowSketch } from '../sketches/window-sketch.ts';
import { DriftDetector, type DriftReport, driftReportSchema } from './detector.ts';
import { CLASS_MIX_FEATURE } from './evaluation.ts';
import { type Corruption, SYNTHETIC_CLASSES, SyntheticCamera, syntheticReference } from './synthetic.ts';

// The setting of the later proof: the digits model, one window a minute of 60 inferences, the
// detector merging the last 5 windows. The reference comes from one camera stream, the test
// streams from others with their own seeds: same distribution, independent samples.
const PER_WINDOW = 60;
const { profile, extractor } = syntheticReference();

function windowFrom(
  camera: SyntheticCamera,
  corruption: Corruption = {},
  size = PER_WINDOW,
  binned = true,
): WindowSketch {
  const window = binned
    ? new WindowSketch({ spec: profile.spec })
    : new WindowSketch({ classes: SYNTHETIC_CLASSES, quantiles: profile.spec.features.map((f) => f.name) });
  for (let i = 0; i < size; i++) window.add(extractor.observe(camera.observe(corruption)));
  return window;
}

/** Windows until the detector's state is `alert`, after `clean` undrifted windows fill its sliding set. */
function windowsToAlert(
  seed: number,
  corruption: Corruption,
  binned = true,
): { windows: number; report: DriftReport } {
  const camera = new SyntheticCamera(seed);
  const detector = new DriftDetector(profile);
  for (let i = 0; i < 10; i++)
    expect(detector.observe(windowFrom(camera, {}, PER_WINDOW, binned)).state).not.toBe('alert');
  for (let w = 1; w <= 30; w++) {
    const report = detector.observe(windowFrom(camera, corruption, PER_WINDOW, binned));
    if (report.state === 'alert') return { windows: w, report };
  }
  throw new Error('no alert within 30 windows');
}

describe('DriftDetector on a stationary stream', () => {
  it('raises no more than 1 % false alarms over 1,000 windows', () => {
    const camera = new SyntheticCamera(2024);
    const detector = new DriftDetector(profile);
    const n = 1000;
    let alarms = 0;
    let rawAlerts = 0;
    let warnOrWorse = 0;
    let ksRejections = 0;
    let evaluated = 0;
    for (let i = 0; i < n; i++) {
      const report = detector.observe(windowFrom(camera));
      if (report.evaluation === 'insufficient-data') continue;
      evaluated++;
      if (report.state === 'alert') alarms++;
      if (report.features.some((f) => f.level === 'alert')) rawAlerts++;
      if (report.evaluation !== 'ok') warnOrWorse++;
      if (report.features.some((f) => f.ks !== null && f.ks > (f.ksCritical as number))) ksRejections++;
    }
    const rate = (k: number) => `${((100 * k) / evaluated).toFixed(2)} %`;
    console.log(
      `stationary, ${evaluated} evaluations of ${5 * PER_WINDOW} samples: false alarms ${rate(alarms)}, ` +
        `alert-level evaluations before hysteresis ${rate(rawAlerts)}, warn or worse ${rate(warnOrWorse)}, ` +
        `KS beyond the Bonferroni-corrected 1 % critical value ${rate(ksRejections)}`,
    );
    expect(evaluated).toBeGreaterThan(990);
    expect(alarms / evaluated).toBeLessThanOrEqual(0.01);
    // The KS test alone must hold its family-wise 1 % (binned KS is conservative; overlap of the
    // sliding windows correlates evaluations, hence the slack).
    expect(ksRejections / evaluated).toBeLessThanOrEqual(0.02);
  });
});

describe('DriftDetector on drifted streams', () => {
  it('alerts on a darker, blurred camera within a few windows, naming the image features', () => {
    const { windows, report } = windowsToAlert(31, { gain: 0.7, blurPasses: 1 });
    console.log(`darker + blurred: alert after ${windows} windows; drifted: ${report.drifted.join(', ')}`);
    expect(windows).toBeLessThanOrEqual(4);
    expect(['sharpness', 'contrast', 'brightness']).toContain(report.drifted[0]);
    expect(report.drifted).toContain('sharpness');
  });

  it('alerts on a +0.5σ brightness shift within a few windows, naming brightness first', () => {
    const sigma = profile.features.find((f) => f.name === 'brightness')?.std as number;
    const { windows, report } = windowsToAlert(32, { brightnessShift: 0.5 * sigma });
    const brightness = report.features.find((f) => f.feature === 'brightness');
    console.log(`+0.5σ brightness: alert after ${windows} windows; PSI ${brightness?.psi?.toFixed(3)}`);
    expect(windows).toBeLessThanOrEqual(8);
    expect(report.drifted[0]).toBe('brightness');
    expect(report.features.find((f) => f.feature === 'sharpness')?.level).toBe('ok');
  });

  it('works from quantile sketches alone, for devices that have no reference edges yet', () => {
    const { windows, report } = windowsToAlert(33, { gain: 0.7, blurPasses: 1 }, false);
    expect(windows).toBeLessThanOrEqual(4);
    expect(report.features[0]?.source).toBe('quantiles');
  });

  it('does not alarm on a single outlier window, however bad, and says it held it back', () => {
    const camera = new SyntheticCamera(34);
    const detector = new DriftDetector(profile);
    const reports: DriftReport[] = [];
    for (let i = 0; i < 20; i++) {
      reports.push(detector.observe(windowFrom(camera, i === 10 ? { gain: 0.3, blurPasses: 2 } : {})));
    }
    expect(reports.map((r) => r.state)).not.toContain('alert');
    expect(reports.some((r) => r.singleWindowOnly)).toBe(true);
  });
});

describe('DriftDetector hysteresis and reports', () => {
  const merged = (camera: SyntheticCamera, corruption: Corruption = {}) =>
    windowFrom(camera, corruption, 300);

  it('raises after 2 of 3 alert evaluations and clears only after 3 calm ones in a row', () => {
    const camera = new SyntheticCamera(35);
    const detector = new DriftDetector(profile);
    const dark = { gain: 0.6, blurPasses: 1 };
    const states = [
      merged(camera),
      merged(camera, dark),
      merged(camera, dark),
      merged(camera),
      merged(camera),
      merged(camera),
    ].map((w) => detector.evaluate(w));
    expect(states.map((r) => r.evaluation)).toEqual(['ok', 'alert', 'alert', 'ok', 'ok', 'ok']);
    expect(states.map((r) => r.state)).toEqual(['ok', 'warn', 'alert', 'alert', 'alert', 'ok']);
    expect(states.map((r) => r.changed)).toEqual([true, true, true, false, false, true]);
    expect(states[4]?.hysteresis.calmStreak).toBe(2);
  });

  it('reports insufficient data below the minimum sample size, and keeps its state', () => {
    const detector = new DriftDetector(profile);
    const report = detector.evaluate(windowFrom(new SyntheticCamera(36), {}, 50));
    expect(report).toMatchObject({
      state: 'insufficient-data',
      evaluation: 'insufficient-data',
      samples: 50,
    });
    expect(report.features).toEqual([]);
  });

  it('emits reports that validate against the schema, with every feature and the class mix scored', () => {
    const detector = new DriftDetector(profile);
    const report = detector.evaluate(merged(new SyntheticCamera(37)));
    expect(driftReportSchema.parse(JSON.parse(JSON.stringify(report)))).toEqual(report);
    expect(report.features.map((f) => f.feature).sort()).toEqual(
      [...profile.spec.features.map((f) => f.name), CLASS_MIX_FEATURE].sort(),
    );
    expect(report.tests).toBe(profile.spec.features.length + 1);
  });

  it('refuses windows binned against another profile', () => {
    const other = syntheticReference({ seed: 3, samples: 200 }).profile;
    const window = new WindowSketch({ spec: other.spec });
    expect(() => new DriftDetector(profile).evaluate(window)).toThrow(SketchError);
  });
});
