import { describe, expect, it } from 'vitest';
import { judgeChallenger } from './gates.ts';
import { DEFAULT_RETRAIN_POLICY, reachesTrigger, retrainPolicySchema } from './policy.ts';

const gates = DEFAULT_RETRAIN_POLICY.gates;
const sizes = { base: 200, edge: 60 };

describe('judgeChallenger', () => {
  it('passes a challenger better on edge data that loses at most one point on the original test set', () => {
    const verdict = judgeChallenger(
      {
        fp32: { champion: { base: 0.9, edge: 0.5 }, challenger: { base: 0.89, edge: 0.7 } },
        int8: { champion: { base: 0.9, edge: 0.5 }, challenger: { base: 0.91, edge: 0.6 } },
      },
      gates,
      sizes,
    );
    expect(verdict.passed).toBe(true);
    expect(verdict.checks).toHaveLength(4);
    expect(verdict.reason).toMatch(/^passed every gate: maxBaseAccuracyDrop\[fp32\] -1\.0 pts/);
  });

  it('refuses more than a point lost on the original test set, naming the gate and the numbers', () => {
    const verdict = judgeChallenger(
      { int8: { champion: { base: 0.9, edge: 0.5 }, challenger: { base: 0.885, edge: 0.9 } } },
      gates,
      sizes,
    );
    expect(verdict.passed).toBe(false);
    expect(verdict.reason).toBe(
      'refused by the gates: maxBaseAccuracyDrop — int8 on the original test set (200 images): challenger 88.5% vs champion 90.0%, loses 1.5 pts (allowed loss 1.0 pts)',
    );
  });

  it('refuses a tie or a loss on edge data, and one variant failing fails the whole', () => {
    const tie = judgeChallenger(
      {
        fp32: { champion: { base: 0.9, edge: 0.6 }, challenger: { base: 0.9, edge: 0.7 } },
        int8: { champion: { base: 0.9, edge: 0.6 }, challenger: { base: 0.9, edge: 0.6 } },
      },
      gates,
      sizes,
    );
    expect(tie.passed).toBe(false);
    expect(tie.checks.filter((c) => !c.passed).map((c) => `${c.gate}:${c.variant}`)).toEqual([
      'minEdgeAccuracyGain:int8',
    ]);
    expect(tie.reason).toMatch(/gain 0\.0 pts \(required 1\.0 pts\)/);
  });

  it('never passes without a variant in common', () => {
    expect(judgeChallenger({}, gates, sizes)).toMatchObject({
      passed: false,
      reason: /no model variant in common/,
    });
  });
});

describe('retrain policy', () => {
  it('fills documented defaults and refuses a zero edge gain', () => {
    expect(DEFAULT_RETRAIN_POLICY).toMatchObject({
      enabled: true,
      triggerState: 'alert',
      minLabelledSamples: 200,
      cooldownSeconds: 3600,
      edgeHoldoutFraction: 0.3,
      gates: { maxBaseAccuracyDrop: 0.01, minEdgeAccuracyGain: 0.01 },
      rollout: { successThreshold: 95, onFailure: 'rollback' },
      target: null,
    });
    expect(retrainPolicySchema.safeParse({ gates: { minEdgeAccuracyGain: 0 } }).success).toBe(false);
    expect(retrainPolicySchema.safeParse({ colour: 'red' }).success).toBe(false);
  });

  it('triggers at alert by default, and at warn when asked', () => {
    expect(reachesTrigger('warn', DEFAULT_RETRAIN_POLICY)).toBe(false);
    expect(reachesTrigger('alert', DEFAULT_RETRAIN_POLICY)).toBe(true);
    const eager = retrainPolicySchema.parse({ triggerState: 'warn' });
    expect(reachesTrigger('warn', eager)).toBe(true);
    expect(reachesTrigger('ok', eager)).toBe(false);
  });
});
