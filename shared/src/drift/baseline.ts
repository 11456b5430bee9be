// A scope's new normal. After a retrained model is promoted for a slice of the fleet whose inputs
// changed (or after an operator accepts the change), the drift of that slice is judged against what
// it sees now, not against the validation images of the original data, or it would alarm forever.
// The new reference keeps the version's spec (devices bin against the edges in their manifest, so
// the edges cannot move); only the proportions, class mix and summaries come from observed windows.
import { EdgeloopError } from '../errors.ts';
import { QuantileSketch } from '../sketches/quantile-sketch.ts';
import type { WindowSketch } from '../sketches/window-sketch.ts';
import { MIN_REFERENCE_SAMPLES, type ReferenceFeature, type ReferenceProfile } from './reference-profile.ts';

/**
 * A reference profile with `profile`'s spec and the distribution of `observed` (windows of one
 * scope, merged). Each feature's bin proportions are the observed bin counts; its quantile sketch
 * is the observed one when the windows carried quantiles, else one rebuilt from the bin counts at
 * bin midpoints (approximate, and only read for windows that send quantiles instead of bins).
 * Features the windows did not observe at least `MIN_REFERENCE_SAMPLES` times keep the version's
 * reference.
 *
 * @example
 * const merged = windows.map((w) => WindowSketch.fromWire(w, profile.spec)).reduce((a, b) => a.merge(b));
 * const baseline = referenceFromWindows(profile, merged); // judge this scope against it from now on
 */
export function referenceFromWindows(profile: ReferenceProfile, observed: WindowSketch): ReferenceProfile {
  if (observed.specFingerprint !== undefined && observed.specFingerprint !== profile.fingerprint) {
    throw new EdgeloopError(
      'VALIDATION_FAILED',
      `windows binned against spec ${observed.specFingerprint} cannot rebase profile ${profile.fingerprint}`,
    );
  }
  if (observed.classes !== profile.spec.classes) {
    throw new EdgeloopError(
      'VALIDATION_FAILED',
      `windows have ${observed.classes} classes, the profile ${profile.spec.classes}`,
    );
  }
  if (observed.count < MIN_REFERENCE_SAMPLES) {
    throw new EdgeloopError(
      'VALIDATION_FAILED',
      `a baseline needs at least ${MIN_REFERENCE_SAMPLES} observed inferences, got ${observed.count}`,
    );
  }
  const features = profile.features.map((feature, i) =>
    rebased(feature, profile.spec.features[i]?.edges ?? [], observed),
  );
  return {
    ...profile,
    sampleSize: observed.count,
    features,
    classDistribution: observed.classCounts.map((c) => c / observed.count),
  };
}

function rebased(
  feature: ReferenceFeature,
  edges: readonly number[],
  observed: WindowSketch,
): ReferenceFeature {
  const histogram = observed.histogram(feature.name);
  const sketch = observed.quantiles(feature.name);
  const counts = histogram?.counts ?? (sketch ? countsAtEdges(sketch, edges) : undefined);
  const total = counts?.reduce((s, c) => s + c, 0) ?? 0;
  if (counts === undefined || total < MIN_REFERENCE_SAMPLES) return feature;
  const quantiles = sketch && sketch.count > 0 ? sketch : sketchFromBins(counts, edges, feature);
  const summary = summarise(quantiles);
  return {
    ...feature,
    count: Math.round(total),
    proportions: counts.map((c) => c / total),
    quantiles: quantiles.encode(),
    ...summary,
  };
}

/** Approximate bin counts from a quantile sketch, as the evaluation reads windows without bins. */
function countsAtEdges(sketch: QuantileSketch, edges: readonly number[]): number[] {
  if (sketch.count === 0) return new Array<number>(edges.length + 1).fill(0);
  const below = (x: number) => (x <= sketch.min ? 0 : sketch.cdf(x));
  const cumulative = [...edges.map(below), 1];
  return cumulative.map((c, i) => (c - (i === 0 ? 0 : (cumulative[i - 1] as number))) * sketch.count);
}

/** A sketch with each bin's count at its midpoint; the open end bins use the old reference's range. */
function sketchFromBins(
  counts: readonly number[],
  edges: readonly number[],
  old: ReferenceFeature,
): QuantileSketch {
  const sketch = new QuantileSketch();
  counts.forEach((count, i) => {
    const n = Math.round(count);
    if (n <= 0) return;
    const lo = i === 0 ? Math.min(old.min, edges[0] ?? old.min) : (edges[i - 1] as number);
    const hi =
      i === edges.length ? Math.max(old.max, edges[edges.length - 1] ?? old.max) : (edges[i] as number);
    sketch.add((lo + hi) / 2, n);
  });
  return sketch;
}

function summarise(sketch: QuantileSketch): Pick<ReferenceFeature, 'mean' | 'std' | 'min' | 'max'> {
  let n = 0;
  let sum = 0;
  let squares = 0;
  for (const [value, count] of sketch.steps()) {
    n += count;
    sum += value * count;
    squares += value * value * count;
  }
  const mean = n === 0 ? 0 : sum / n;
  const variance = n === 0 ? 0 : Math.max(0, squares / n - mean * mean);
  return { mean, std: Math.sqrt(variance), min: sketch.min, max: sketch.max };
}
