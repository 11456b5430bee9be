// The evaluation gates of a retraining run: champion and challenger, variant by variant, on (a) the
// original test set and (b) the recent labelled edge data held out from training. The challenger
// passes only when, for every variant both have, it is better on (b) by the policy's margin and
// loses at most the policy's allowance on (a). The verdict is pure; measuring is separate.
import type { ModelVariant } from '@edgeloop/shared';
import type { ImageShape, LabelledImages } from '../datasets/index.ts';
import { type EvaluationSet, evaluateModel } from '../evaluation/index.ts';
import type { ArtifactStore, VersionRecord } from '../registry/index.ts';
import type { RetrainGates } from './policy.ts';

export interface SetAccuracy {
  /** On the original test set. */
  base: number;
  /** On the edge holdout. */
  edge: number;
}

export type VariantAccuracies = Partial<
  Record<ModelVariant, { champion: SetAccuracy; challenger: SetAccuracy }>
>;

export interface GateCheck {
  gate: keyof RetrainGates;
  variant: ModelVariant;
  passed: boolean;
  /** Challenger minus champion, accuracy (negative: the challenger is worse). */
  delta: number;
  message: string;
}

export interface GateVerdict {
  passed: boolean;
  checks: GateCheck[];
  /** One line: why it passed, or every failed gate. */
  reason: string;
}

const pts = (v: number) => `${(v * 100).toFixed(1)} pts`;
const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

/** Applies the gates to measured accuracies. No variant in common is a failure, never a pass. */
export function judgeChallenger(
  accuracies: VariantAccuracies,
  gates: RetrainGates,
  sizes: { base: number; edge: number },
): GateVerdict {
  const checks: GateCheck[] = [];
  for (const [variant, acc] of Object.entries(accuracies) as [
    ModelVariant,
    NonNullable<VariantAccuracies[ModelVariant]>,
  ][]) {
    const drop = acc.champion.base - acc.challenger.base;
    checks.push({
      gate: 'maxBaseAccuracyDrop',
      variant,
      // A small epsilon: accuracies are ratios of counts and must not fail on float rounding.
      passed: drop <= gates.maxBaseAccuracyDrop + 1e-9,
      delta: -drop,
      message: `${variant} on the original test set (${sizes.base} images): challenger ${pct(acc.challenger.base)} vs champion ${pct(acc.champion.base)}, ${drop > 0 ? `loses ${pts(drop)}` : `gains ${pts(-drop)}`} (allowed loss ${pts(gates.maxBaseAccuracyDrop)})`,
    });
    const gain = acc.challenger.edge - acc.champion.edge;
    checks.push({
      gate: 'minEdgeAccuracyGain',
      variant,
      passed: gain >= gates.minEdgeAccuracyGain - 1e-9,
      delta: gain,
      message: `${variant} on recent edge data (${sizes.edge} held-out samples): challenger ${pct(acc.challenger.edge)} vs champion ${pct(acc.champion.edge)}, gain ${pts(gain)} (required ${pts(gates.minEdgeAccuracyGain)})`,
    });
  }
  if (checks.length === 0) {
    return { passed: false, checks, reason: 'no model variant in common between champion and challenger' };
  }
  const failed = checks.filter((c) => !c.passed);
  const passed = failed.length === 0;
  const reason = passed
    ? `passed every gate: ${checks.map((c) => `${c.gate}[${c.variant}] ${c.delta >= 0 ? '+' : ''}${pts(c.delta)}`).join(', ')}`
    : `refused by the gates: ${failed.map((c) => `${c.gate} — ${c.message}`).join('; ')}`;
  return { passed, checks, reason };
}

/** Accuracy of every variant champion and challenger both have, on both sets. */
export async function measureAccuracies(args: {
  store: ArtifactStore;
  champion: VersionRecord;
  challenger: VersionRecord;
  base: EvaluationSet;
  edge: EvaluationSet;
  onProgress?: (fraction: number, message: string) => void;
}): Promise<VariantAccuracies> {
  const { champion, challenger } = args;
  const pairs = challenger.variants.flatMap((ours) => {
    const theirs = champion.variants.find((v) => v.variant === ours.variant);
    return theirs === undefined ? [] : [{ ours, theirs }];
  });
  const out: VariantAccuracies = {};
  let done = 0;
  const total = pairs.length * 4;
  const accuracy = async (
    record: VersionRecord['variants'][number],
    set: EvaluationSet,
    what: string,
  ): Promise<number> => {
    args.onProgress?.(done / total, what);
    const bytes = await args.store.get(record.sha256);
    const evaluation = await evaluateModel(bytes, set, {
      sessionOptions: record.manifest.sessionOptions,
      latency: false,
    });
    done++;
    return evaluation.accuracy;
  };
  for (const { ours, theirs } of pairs) {
    const v = ours.variant;
    out[v] = {
      champion: {
        base: await accuracy(
          theirs,
          args.base,
          `champion v${champion.version} ${v} on the original test set`,
        ),
        edge: await accuracy(theirs, args.edge, `champion v${champion.version} ${v} on the edge holdout`),
      },
      challenger: {
        base: await accuracy(
          ours,
          args.base,
          `challenger v${challenger.version} ${v} on the original test set`,
        ),
        edge: await accuracy(ours, args.edge, `challenger v${challenger.version} ${v} on the edge holdout`),
      },
    };
  }
  args.onProgress?.(1, 'evaluated');
  return out;
}

export function evaluationSetOf(split: LabelledImages, shape: ImageShape, classes: string[]): EvaluationSet {
  return { ...split, shape, classes };
}
