// The "drift not worse" gate, purely: each side's merged window sketches against its own model
// version's reference profile (the new version for the wave, the old one for the control group),
// scored as the largest PSI over the profile's features, the same number the drift monitor
// publishes as the drift score. Too few samples or a missing profile skip the gate (inconclusive,
// with the reason), never fail it.
import {
  DEFAULT_DRIFT_THRESHOLDS,
  evaluateDrift,
  prepareReference,
  type ReferenceProfile,
  type WindowSketch,
} from '@edgeloop/shared';
import type { GateResult } from './gates.ts';
import type { Gates } from './policy.ts';

/** A cohort's window sketches, merged in one profile's bins. */
export interface DriftSample {
  /** Windows merged into `sketch`. */
  windows: number;
  /** Windows with sketches binned against another profile (not comparable, left out). */
  incompatible: number;
  sketch: WindowSketch | null;
}

/** One side of the comparison: a model version, its reference profile (if any) and its sample. */
export interface DriftSide {
  version: string;
  profile: ReferenceProfile | null;
  sample: DriftSample;
}

export interface DriftScore {
  /** Largest PSI over the features judged; null when there were too few samples. */
  score: number | null;
  feature: string | null;
  samples: number;
}

export function driftScore(
  sketch: WindowSketch | null,
  profile: ReferenceProfile,
  minSamples: number,
): DriftScore {
  if (sketch === null) return { score: null, feature: null, samples: 0 };
  const evaluation = evaluateDrift(sketch, prepareReference(profile), {
    ...DEFAULT_DRIFT_THRESHOLDS,
    minSamples,
  });
  let best: { psi: number; feature: string } | null = null;
  for (const f of evaluation.features) {
    if (f.psi !== null && (best === null || f.psi > best.psi)) best = { psi: f.psi, feature: f.feature };
  }
  return { score: best?.psi ?? null, feature: best?.feature ?? null, samples: evaluation.samples };
}

const fmt = (n: number) => n.toFixed(3);

export function evaluateDriftGate(
  gate: NonNullable<Gates['drift']>,
  candidate: DriftSide,
  baseline: DriftSide,
): GateResult {
  const skip = (why: string, c: number | null = null, b: number | null = null): GateResult => ({
    gate: 'drift',
    verdict: 'inconclusive',
    reason: `drift: skipped: ${why}`,
    candidate: c,
    baseline: b,
  });
  for (const side of [candidate, baseline]) {
    if (side.profile === null) return skip(`v${side.version} has no reference profile`);
  }
  let c: DriftScore;
  let b: DriftScore;
  try {
    c = driftScore(candidate.sample.sketch, candidate.profile as ReferenceProfile, gate.minSamples);
    b = driftScore(baseline.sample.sketch, baseline.profile as ReferenceProfile, gate.minSamples);
  } catch (error) {
    return skip(
      `sketches do not match the profile (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  if (c.score === null || b.score === null) {
    return skip(
      `too few sketched samples (${c.samples} new / ${b.samples} old, need ${gate.minSamples} each)`,
      c.score,
      b.score,
    );
  }
  const worse = c.score - b.score > gate.maxIncrease;
  return {
    gate: 'drift',
    verdict: worse ? 'fail' : 'pass',
    reason: `drift: score ${fmt(c.score)} (${c.feature}) on v${candidate.version} vs ${fmt(b.score)} (${b.feature}) on v${baseline.version} (max +${gate.maxIncrease})`,
    candidate: c.score,
    baseline: b.score,
  };
}
