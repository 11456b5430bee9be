// The drift gate on real sketches: each side's windows binned against its own version's profile,
// scored by the largest PSI; it passes when the new model drifts no more than the old, fails past
// the bound, and is skipped (inconclusive, with the reason) on thin data or a missing profile.
import type { ModelRef, ReferenceProfile } from '@edgeloop/shared';
import { describe, expect, it } from 'vitest';
import { type DriftSide, evaluateDriftGate } from './drift-gate.ts';
import { TelemetryMemory } from './gates.ts';
import { DriftWorld, telemetryWindow } from './testing.ts';

const V1: ModelRef = { name: 'digits', version: '1', variant: 'int8', sha256: '1'.repeat(64) };
const V2: ModelRef = { name: 'digits', version: '2', variant: 'int8', sha256: '2'.repeat(64) };
const gate = { maxIncrease: 0.1, minSamples: 200 };
const oldProfile = new DriftWorld(1).profile();
const newProfile = new DriftWorld(2).profile();

/** Devices `ids` each send one window of `n` inferences on `model`, binned against `profile`. */
async function side(
  memory: TelemetryMemory,
  ids: string[],
  model: ModelRef,
  profile: ReferenceProfile | null,
  n: number,
  gain: number,
  seed: number,
): Promise<DriftSide> {
  const world = new DriftWorld(seed);
  for (const id of ids) {
    const sketches = profile ? world.sketches(profile, n, gain) : undefined;
    memory.record(id, telemetryWindow(id, model, 1000, { inferences: n, ...(sketches ? { sketches } : {}) }));
  }
  const query = {
    deviceIds: ids,
    since: 0,
    until: 2000,
    model: { name: 'digits', version: model.version, match: 'this' as const },
  };
  const sample = profile
    ? await memory.driftSample(query, profile)
    : { windows: 0, incompatible: 0, sketch: null };
  return { version: model.version, profile, sample };
}

describe('the drift gate', () => {
  it('passes a new model whose field data matches its reference as well as the old one does', async () => {
    const memory = new TelemetryMemory();
    const candidate = await side(memory, ['n1', 'n2'], V2, newProfile, 200, 1, 11);
    const baseline = await side(memory, ['o1', 'o2'], V1, oldProfile, 200, 1, 12);
    expect(candidate.sample).toMatchObject({ windows: 2, incompatible: 0 });
    const result = evaluateDriftGate(gate, candidate, baseline);
    expect(result).toMatchObject({ gate: 'drift', verdict: 'pass' });
    expect(result.candidate).toBeLessThan(0.1);
    expect(result.reason).toMatch(
      /^drift: score 0\.\d{3} \(\S+\) on v2 vs 0\.\d{3} \(\S+\) on v1 \(max \+0\.1\)$/,
    );
  });

  it('fails when the wave drifts from its reference more than the control group from its own', async () => {
    const memory = new TelemetryMemory();
    // The new model's devices see darker scenes than its reference was built on.
    const candidate = await side(memory, ['n1', 'n2'], V2, newProfile, 200, 0.6, 21);
    const baseline = await side(memory, ['o1', 'o2'], V1, oldProfile, 200, 1, 22);
    const result = evaluateDriftGate(gate, candidate, baseline);
    expect(result.verdict).toBe('fail');
    expect((result.candidate as number) - (result.baseline as number)).toBeGreaterThan(0.1);
  });

  it('is skipped, not failed, with too few samples or without a profile', async () => {
    const memory = new TelemetryMemory();
    const thin = await side(memory, ['n1'], V2, newProfile, 50, 0.3, 31);
    const baseline = await side(memory, ['o1', 'o2'], V1, oldProfile, 200, 1, 32);
    expect(evaluateDriftGate(gate, thin, baseline)).toMatchObject({
      verdict: 'inconclusive',
      reason: 'drift: skipped: too few sketched samples (50 new / 400 old, need 200 each)',
    });
    const noProfile = await side(memory, ['n2'], V2, null, 300, 1, 33);
    expect(evaluateDriftGate(gate, noProfile, baseline)).toMatchObject({
      verdict: 'inconclusive',
      reason: 'drift: skipped: v2 has no reference profile',
    });
  });

  it('leaves out windows binned against another profile', async () => {
    const memory = new TelemetryMemory();
    // Old-profile sketches reported under v2 cannot be read in the new profile's bins.
    const mixed = await side(memory, ['n1'], V2, oldProfile, 200, 1, 41);
    const sample = await memory.driftSample(
      { deviceIds: ['n1'], since: 0, until: 2000, model: { name: 'digits', version: '2', match: 'this' } },
      newProfile,
    );
    expect(mixed.sample.windows).toBe(1);
    expect(sample).toMatchObject({ windows: 0, incompatible: 1, sketch: null });
  });
});
