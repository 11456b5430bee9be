// A rollback is itself a rollout: one wave, no soak, no gates, every device the rolled-back rollout
// touched sent back to the artifact it reported running before. It pauses on trouble (a rollback
// never rolls back). A rollout that never sent anything has nothing to roll back: null.
import { EdgeloopError, type ModelVariant } from '@edgeloop/shared';
import type { VariantRecord } from '../registry/records.ts';
import type { RolloutState } from './machine.ts';
import { planRollback, type RollbackCandidate } from './plan.ts';
import { type RolloutPolicy, waveParams } from './policy.ts';
import { type NewRollout, newRolloutId, type RolloutRecord } from './store.ts';

export type VariantLookup = (model: string, version: number, variant: ModelVariant) => Promise<VariantRecord>;

export async function prepareRollback(
  getVariant: VariantLookup,
  record: RolloutRecord,
  state: RolloutState,
  actor: string,
): Promise<NewRollout | null> {
  const touched = state.devices.filter((d) => d.state !== 'pending' && d.state !== 'excluded');
  if (touched.length === 0) return null; // nothing was sent: nothing to return
  const lookups = new Map<string, Promise<RollbackCandidate['previous']>>();
  const previousOf = (ref: NonNullable<RolloutState['devices'][number]['fromModel']>) => {
    let found = lookups.get(ref.sha256);
    if (found === undefined) {
      found = getVariant(ref.name, Number(ref.version), ref.variant).then(
        (v) =>
          // A registry variant with another sha than the device reported is not what it ran.
          v.sha256 === ref.sha256
            ? { model: v.model, version: v.version, variant: v.variant, sha256: v.sha256, size: v.size }
            : null,
        (error: unknown) => {
          if (error instanceof EdgeloopError && error.code === 'NOT_FOUND') return null;
          throw error;
        },
      );
      lookups.set(ref.sha256, found);
    }
    return found;
  };
  const candidates: RollbackCandidate[] = [];
  for (const device of touched) {
    candidates.push({
      deviceId: device.deviceId,
      current:
        device.sha256 && device.variant
          ? {
              name: state.modelName,
              version: String(device.modelVersion ?? state.version),
              variant: device.variant,
              sha256: device.sha256,
            }
          : null,
      previous: device.fromModel ? await previousOf(device.fromModel) : null,
      chunkSize: device.chunkSize ?? 64 * 1024,
    });
  }
  const { shadow: _shadow, promoteAlias: _promote, ...inherited } = record.policy;
  // A rollback neither shadows nor promotes an alias.
  const policy: RolloutPolicy = {
    ...inherited,
    waves: [{ percent: 100 }],
    successThreshold: 100,
    failureThreshold: 100,
    minSoakSeconds: 0,
    onFailure: 'pause',
    gates: { minInferences: record.policy.gates.minInferences },
  };
  const plan = planRollback(candidates, waveParams(policy, { percent: 100 }));
  // The rollouts row names one version; each device row carries its own artifact.
  const versions = plan.devices.map(
    (d) => candidates.find((c) => c.deviceId === d.deviceId)?.previous?.version,
  );
  const version = mostCommon(versions.filter((v): v is number => v !== undefined)) ?? record.version;
  return {
    id: newRolloutId(),
    kind: 'rollback',
    rollbackOf: record.id,
    modelName: record.modelName,
    version,
    target: { kind: 'devices', deviceIds: touched.map((d) => d.deviceId) },
    policy,
    seed: record.seed,
    createdBy: actor,
    plan,
  };
}

/** The value that occurs most often (the first of a tie). */
export function mostCommon<T>(values: readonly T[]): T | undefined {
  const counts = new Map<T, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: T | undefined;
  for (const [v, n] of counts) if (best === undefined || n > (counts.get(best) ?? 0)) best = v;
  return best;
}
