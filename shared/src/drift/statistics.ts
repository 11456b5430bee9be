// The drift statistics, pure functions on counts and sketches. Each comes with what it needs to be
// read at a given sample size: PSI and Jensen–Shannon measure how far apart two distributions are
// (effect size), the KS critical value and the chi-square tail say whether that distance could be
// sampling noise (significance). The detector wants both before it alarms.
import type { QuantileSketch } from '../sketches/quantile-sketch.ts';

/**
 * Floor for a reference proportion of zero in PSI. Reference bins come from deciles, so only bins
 * the reference never filled (below a bounded minimum, say) get it; a window value landing there
 * costs ~0.02 PSI per 1 % of the window — noticed, not alarming on its own.
 */
export const PSI_REFERENCE_FLOOR = 1e-4;
/**
 * Half a count added to every window bin (the Jeffreys prior) before taking proportions: a bin a
 * small window happens to miss would otherwise make ln(0) or, with a fixed epsilon, a PSI term that
 * depends on the epsilon more than on the data.
 */
export const PSI_WINDOW_PSEUDOCOUNT = 0.5;

/**
 * Population stability index Σ (aᵢ − eᵢ)·ln(aᵢ/eᵢ) of window bin counts against reference bin
 * proportions (see PSI_REFERENCE_FLOOR and PSI_WINDOW_PSEUDOCOUNT for empty bins). 0.1 is the
 * usual "moderate shift", 0.2 "significant shift". Without drift its expected value is about
 * (bins − 1)/n, the sampling noise of n window values, which is why it needs a minimum sample size.
 *
 * @example
 * populationStabilityIndex([0.5, 0.5], [50, 50]); // 0
 * populationStabilityIndex([0.5, 0.5], [80, 20]); // ≈ 0.38
 */
export function populationStabilityIndex(reference: readonly number[], counts: readonly number[]): number {
  if (reference.length !== counts.length) throw new RangeError('reference and window bins differ in number');
  const n = counts.reduce((s, c) => s + c, 0) + PSI_WINDOW_PSEUDOCOUNT * counts.length;
  let psi = 0;
  for (let i = 0; i < counts.length; i++) {
    const a = ((counts[i] as number) + PSI_WINDOW_PSEUDOCOUNT) / n;
    const e = Math.max(reference[i] as number, PSI_REFERENCE_FLOOR);
    psi += (a - e) * Math.log(a / e);
  }
  return psi;
}

/**
 * Largest gap between the cumulative shares of reference proportions and window counts, read at
 * the bin edges: the KS statistic of the binned data (never above the KS of the raw values, so
 * tests built on it err towards silence).
 *
 * @example
 * binnedKsDistance([0.25, 0.25, 0.5], [0, 0, 10]); // 0.5
 */
export function binnedKsDistance(reference: readonly number[], counts: readonly number[]): number {
  if (reference.length !== counts.length) throw new RangeError('reference and window bins differ in number');
  const n = counts.reduce((s, c) => s + c, 0);
  if (n === 0) return 0;
  let ref = 0;
  let win = 0;
  let d = 0;
  for (let i = 0; i < counts.length - 1; i++) {
    ref += reference[i] as number;
    win += (counts[i] as number) / n;
    d = Math.max(d, Math.abs(ref - win));
  }
  return d;
}

/**
 * KS distance between two quantile sketches: the largest gap between their CDFs at every bucket
 * either one has. With equal relative accuracy the buckets coincide and the only error is which
 * side of a bucket a value sits on (values within α of each other).
 *
 * @example
 * sketchKsDistance(windowLatency, referenceLatency); // in [0, 1]
 */
export function sketchKsDistance(a: QuantileSketch, b: QuantileSketch): number {
  if (a.count === 0 || b.count === 0) return 0;
  const sa = a.steps();
  const sb = b.steps();
  let i = 0;
  let j = 0;
  let ca = 0;
  let cb = 0;
  let d = 0;
  while (i < sa.length || j < sb.length) {
    const va = i < sa.length ? (sa[i] as [number, number])[0] : Number.POSITIVE_INFINITY;
    const vb = j < sb.length ? (sb[j] as [number, number])[0] : Number.POSITIVE_INFINITY;
    const v = Math.min(va, vb);
    if (va === v) ca += (sa[i++] as [number, number])[1];
    if (vb === v) cb += (sb[j++] as [number, number])[1];
    d = Math.max(d, Math.abs(ca / a.count - cb / b.count));
  }
  return d;
}

/**
 * Two-sample KS critical value at significance `alpha` for samples of n and m values:
 * √(−ln(α/2)/2) · √((n + m)/(n·m)). A window of n values compared with a reference of m values
 * differs by more than this with probability ≤ α when nothing drifted (asymptotically; with binned
 * data, less).
 *
 * @example
 * ksCriticalValue(0.05, 300, 2000); // ≈ 0.084
 */
export function ksCriticalValue(alpha: number, n: number, m: number): number {
  if (!(alpha > 0 && alpha < 1) || n <= 0 || m <= 0) throw new RangeError('need 0 < alpha < 1 and n, m > 0');
  return Math.sqrt(-Math.log(alpha / 2) / 2) * Math.sqrt((n + m) / (n * m));
}

/**
 * Jensen–Shannon divergence in bits (0 = same, 1 = disjoint) between two distributions given as
 * counts or proportions (each is normalised; if either is all zeros there is nothing to compare
 * and the result is 0).
 *
 * @example
 * jensenShannonDivergence([1, 0], [0, 1]); // 1
 * jensenShannonDivergence([10, 10], [1, 1]); // 0
 */
export function jensenShannonDivergence(p: readonly number[], q: readonly number[]): number {
  if (p.length !== q.length) throw new RangeError('distributions differ in length');
  const sp = p.reduce((s, x) => s + x, 0);
  const sq = q.reduce((s, x) => s + x, 0);
  if (sp === 0 || sq === 0) return 0;
  let js = 0;
  for (let i = 0; i < p.length; i++) {
    const a = (p[i] as number) / sp;
    const b = (q[i] as number) / sq;
    // log2(2a/(a+b)) rather than log2(a/m): m = (a+b)/2 underflows for subnormal shares.
    if (a > 0) js += 0.5 * a * Math.log2((2 * a) / (a + b));
    if (b > 0) js += 0.5 * b * Math.log2((2 * b) / (a + b));
  }
  return Math.min(1, Math.max(0, js));
}

/**
 * P(X ≥ x) for X ~ χ²(dof): the regularised upper incomplete gamma Q(dof/2, x/2), by its series
 * below a + 1 and its continued fraction above (Numerical Recipes §6.2).
 *
 * @example
 * chiSquareSurvival(3.841, 1); // ≈ 0.05
 */
export function chiSquareSurvival(x: number, dof: number): number {
  if (!(dof > 0)) throw new RangeError('degrees of freedom must be positive');
  if (!(x > 0)) return 1;
  const a = dof / 2;
  const z = x / 2;
  const logPrefix = a * Math.log(z) - z - logGamma(a);
  if (z < a + 1) {
    let term = 1 / a;
    let sum = term;
    for (let k = 1; k < 1000 && Math.abs(term) > Math.abs(sum) * 1e-15; k++) {
      term *= z / (a + k);
      sum += term;
    }
    return Math.max(0, 1 - sum * Math.exp(logPrefix));
  }
  const tiny = 1e-300;
  let b = z + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const step = d * c;
    h *= step;
    if (Math.abs(step - 1) < 1e-15) break;
  }
  return Math.min(1, Math.exp(logPrefix) * h);
}

/** ln Γ(x) for x > 0, Lanczos (g = 7, 9 terms), ~15 significant digits. */
function logGamma(x: number): number {
  const g = 7;
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const y = x - 1;
  let sum = c[0] as number;
  for (let i = 1; i < g + 2; i++) sum += (c[i] as number) / (y + i);
  const t = y + g + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(sum);
}
