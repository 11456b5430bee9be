// One merged window against the reference profile, without memory: per feature an effect size
// (PSI, Jensen–Shannon) and a significance test (KS, chi-square), Bonferroni-corrected across
// features. `DriftDetector` (detector.ts) adds the sliding set of windows and the hysteresis.
import * as z from 'zod';
import { incompatibleSketches } from '../sketches/errors.ts';
import { QuantileSketch } from '../sketches/quantile-sketch.ts';
import type { WindowSketch } from '../sketches/window-sketch.ts';
import type { ReferenceProfile } from './reference-profile.ts';
import {
  binnedKsDistance,
  chiSquareSurvival,
  jensenShannonDivergence,
  ksCriticalValue,
  populationStabilityIndex,
  sketchKsDistance,
} from './statistics.ts';

/**
 * When a difference is large enough to matter (effect size) and unlikely to be noise (significance).
 * A feature reaches a level only when both its effect size and its test reach it.
 */
export interface DriftThresholds {
  /** PSI of a moderate / significant shift: the common 0.1 / 0.2 convention. */
  psiWarn: number;
  psiAlert: number;
  /**
   * Jensen–Shannon (bits) on the predicted-class mix. Near zero JS ≈ Σ(p − q)²/q / (8 ln 2) while
   * PSI ≈ Σ(p − q)²/q, so PSI's thresholds divided by 8 ln 2 (≈ 0.018 / 0.036) mean the same shift.
   */
  jsWarn: number;
  jsAlert: number;
  /**
   * Family-wise false-positive rate per evaluation for the warn / alert tests; each of the T tests
   * (features + class mix) runs at alpha / T (Bonferroni), so testing many features does not
   * multiply false alarms.
   */
  warnAlpha: number;
  alertAlpha: number;
  /**
   * Below this many inferences a window is "insufficient data". PSI's noise floor is ≈ (bins−1)/n
   * (0.045 at 200 for deciles) and at 200 against a 2,000-sample reference a 0.5σ mean shift
   * (KS ≈ 0.2) already clears the corrected alert critical value (≈ 0.15 for 10 tests).
   */
  minSamples: number;
}

export const DEFAULT_DRIFT_THRESHOLDS: DriftThresholds = {
  psiWarn: 0.1,
  psiAlert: 0.2,
  jsWarn: 0.1 / (8 * Math.LN2),
  jsAlert: 0.2 / (8 * Math.LN2),
  warnAlpha: 0.05,
  alertAlpha: 0.01,
  minSamples: 200,
};

export const driftLevelSchema = z.enum(['ok', 'warn', 'alert']);
export type DriftLevel = z.infer<typeof driftLevelSchema>;
const LEVEL_RANK: Record<DriftLevel, number> = { ok: 0, warn: 1, alert: 2 };

/** The name the predicted-class mix goes by among the features of a report. */
export const CLASS_MIX_FEATURE = 'predictedClass';

export const featureDriftSchema = z.object({
  feature: z.string(),
  kind: z.enum(['input', 'output', 'embedding', 'classes']),
  /** Where the window's numbers came from: exact bin counts, or a quantile sketch read at the edges. */
  source: z.enum(['bins', 'quantiles', 'classes']),
  samples: z.number().int().nonnegative(),
  psi: z.number().nullable(),
  ks: z.number().nullable(),
  /** KS critical value at the corrected alert significance. */
  ksCritical: z.number().nullable(),
  js: z.number().nullable(),
  /** Chi-square p-value of the class mix (classes only). */
  pValue: z.number().nullable(),
  /** Effect size over its alert threshold (PSI / psiAlert or JS / jsAlert): the ranking key. */
  severity: z.number(),
  level: driftLevelSchema,
});
export type FeatureDrift = z.infer<typeof featureDriftSchema>;

export interface DriftEvaluation {
  level: DriftLevel | 'insufficient-data';
  samples: number;
  /** Number of tests the alpha was divided by. */
  tests: number;
  /** Most drifted first. */
  features: FeatureDrift[];
}

/** A reference profile with its quantile sketches decoded once, not per evaluation. */
export interface PreparedReference {
  profile: ReferenceProfile;
  sketches: Map<string, QuantileSketch>;
}

export function prepareReference(profile: ReferenceProfile): PreparedReference {
  return {
    profile,
    sketches: new Map(profile.features.map((f) => [f.name, QuantileSketch.decode(f.quantiles)])),
  };
}

/**
 * Compares one (merged) window with the reference, without memory. Features come from the window's
 * bin counts where it has them, otherwise from its quantile sketches read at the reference edges.
 *
 * @example
 * const { level, features } = evaluateDrift(merged, prepareReference(profile));
 * if (level === 'alert') console.log(features[0]?.feature); // the feature that drifted most
 */
export function evaluateDrift(
  window: WindowSketch,
  reference: PreparedReference,
  thresholds: DriftThresholds = DEFAULT_DRIFT_THRESHOLDS,
): DriftEvaluation {
  const { profile } = reference;
  if (window.specFingerprint !== undefined && window.specFingerprint !== profile.fingerprint) {
    throw incompatibleSketches(`window spec ${window.specFingerprint} is not profile ${profile.fingerprint}`);
  }
  if (window.classes !== profile.spec.classes) {
    throw incompatibleSketches(`window has ${window.classes} classes, profile ${profile.spec.classes}`);
  }
  const samples = window.count;
  if (samples < thresholds.minSamples) return { level: 'insufficient-data', samples, tests: 0, features: [] };

  const measured = profile.features
    .map((f, i) => ({ f, edges: profile.spec.features[i]?.edges ?? [] }))
    .map(({ f, edges }) => measureFeature(window, f, edges, reference.sketches.get(f.name)))
    .filter((m) => m !== undefined && m.samples >= thresholds.minSamples) as Measured[];
  const tests = measured.length + 1;
  const features: FeatureDrift[] = measured.map((m) =>
    judgeFeature(m, profile.sampleSize, tests, thresholds),
  );
  features.push(judgeClassMix(window, profile, tests, thresholds));
  features.sort(compareDrift);
  const level = features.reduce<DriftLevel>(
    (worst, f) => (LEVEL_RANK[f.level] > LEVEL_RANK[worst] ? f.level : worst),
    'ok',
  );
  return { level, samples, tests, features };
}

interface Measured {
  name: string;
  kind: 'input' | 'output' | 'embedding';
  source: 'bins' | 'quantiles';
  samples: number;
  psi: number;
  ks: number;
  referenceCount: number;
}

function measureFeature(
  window: WindowSketch,
  feature: ReferenceProfile['features'][number],
  edges: readonly number[],
  referenceSketch: QuantileSketch | undefined,
): Measured | undefined {
  const base = { name: feature.name, kind: feature.kind, referenceCount: feature.count };
  const histogram = window.histogram(feature.name);
  if (histogram) {
    const counts = histogram.counts;
    return {
      ...base,
      source: 'bins',
      samples: histogram.total,
      psi: populationStabilityIndex(feature.proportions, counts),
      ks: binnedKsDistance(feature.proportions, counts),
    };
  }
  const sketch = window.quantiles(feature.name);
  if (!sketch || sketch.count === 0 || !referenceSketch) return undefined;
  // Approximate bin counts: the sketch's CDF at each edge, good to its relative accuracy.
  const cumulative = [...edges.map((e) => cdfBelow(sketch, e)), 1];
  const counts = cumulative.map((c, i) => (c - (i === 0 ? 0 : (cumulative[i - 1] as number))) * sketch.count);
  return {
    ...base,
    source: 'quantiles',
    samples: sketch.count,
    psi: populationStabilityIndex(feature.proportions, counts),
    ks: sketchKsDistance(sketch, referenceSketch),
  };
}

/** Share of values strictly below x, matching bins that are closed at their lower edge. */
function cdfBelow(sketch: QuantileSketch, x: number): number {
  return x <= sketch.min ? 0 : sketch.cdf(x);
}

/**
 * Most drifted first: by level, then effect size; when effect sizes tie — PSI saturates at the same
 * value for every feature whose mass left the reference bins entirely — by the KS distance, which
 * keeps measuring how far the distribution moved.
 */
export function compareDrift(a: FeatureDrift, b: FeatureDrift): number {
  const byLevel = LEVEL_RANK[b.level] - LEVEL_RANK[a.level];
  if (byLevel !== 0) return byLevel;
  const scale = Math.max(Math.abs(a.severity), Math.abs(b.severity), 1);
  if (Math.abs(b.severity - a.severity) > 1e-6 * scale) return b.severity - a.severity;
  return (b.ks ?? 0) - (a.ks ?? 0);
}

function judgeFeature(m: Measured, referenceSize: number, tests: number, t: DriftThresholds): FeatureDrift {
  const m2 = Math.min(m.referenceCount, referenceSize);
  const warnCritical = ksCriticalValue(t.warnAlpha / tests, m.samples, m2);
  const alertCritical = ksCriticalValue(t.alertAlpha / tests, m.samples, m2);
  const effect = m.psi >= t.psiAlert ? 'alert' : m.psi >= t.psiWarn ? 'warn' : 'ok';
  const significance = m.ks > alertCritical ? 'alert' : m.ks > warnCritical ? 'warn' : 'ok';
  return {
    feature: m.name,
    kind: m.kind,
    source: m.source,
    samples: m.samples,
    psi: m.psi,
    ks: m.ks,
    ksCritical: alertCritical,
    js: null,
    pValue: null,
    severity: m.psi / t.psiAlert,
    level: lower(effect, significance),
  };
}

/**
 * The class mix: JS for the effect, and for significance the chi-square approximation
 * 8·ln2·n_eff·JS ~ χ²(classes seen − 1), n_eff = n·m/(n + m) for a window of n against m.
 */
function judgeClassMix(
  window: WindowSketch,
  profile: ReferenceProfile,
  tests: number,
  t: DriftThresholds,
): FeatureDrift {
  const n = window.count;
  const m = profile.sampleSize;
  const js = jensenShannonDivergence(profile.classDistribution, window.classCounts);
  const seen = window.classCounts.filter((c, i) => c > 0 || (profile.classDistribution[i] ?? 0) > 0).length;
  const pValue = seen < 2 ? 1 : chiSquareSurvival(8 * Math.LN2 * ((n * m) / (n + m)) * js, seen - 1);
  const effect = js >= t.jsAlert ? 'alert' : js >= t.jsWarn ? 'warn' : 'ok';
  const significance = pValue < t.alertAlpha / tests ? 'alert' : pValue < t.warnAlpha / tests ? 'warn' : 'ok';
  return {
    feature: CLASS_MIX_FEATURE,
    kind: 'classes',
    source: 'classes',
    samples: n,
    psi: null,
    ks: null,
    ksCritical: null,
    js,
    pValue,
    severity: js / t.jsAlert,
    level: lower(effect, significance),
  };
}

function lower(a: DriftLevel, b: DriftLevel): DriftLevel {
  return LEVEL_RANK[a] <= LEVEL_RANK[b] ? a : b;
}
