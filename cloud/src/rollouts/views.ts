// What the API, the CLI's live view and the dashboard show of a rollout: per-wave device counts
// (pending, in progress, active, failed, timed out), computed from the stored state.

import {
  type RolloutDevice,
  type RolloutStatus,
  type WaveCounts,
  type WaveStatus,
  waveCounts,
} from './machine.ts';
import type { RolloutPolicy, RolloutTarget, WaveParams } from './policy.ts';
import type { ShadowResult, ShadowStatus } from './shadow.ts';
import type { LoadedRollout } from './store.ts';

/** The shadow phase: its rules, where it stands and what the wave's devices reported. */
export interface ShadowView {
  wave: number;
  status: ShadowStatus;
  rate: number;
  minAgreement: number;
  minFrames: number;
  soakSeconds: number;
  startedAt: string | null;
  finishedAt: string | null;
  /** Devices whose desired state carries the shadow now. */
  devices: number;
  /** The measurement of the last verdict, or while the phase runs, the live one (`live`). */
  result: ShadowResult | null;
  live: boolean;
}

export interface WaveView {
  index: number;
  status: WaveStatus;
  params: WaveParams;
  counts: WaveCounts;
  startedAt: string | null;
  soakStartedAt: string | null;
  finishedAt: string | null;
}

export interface RolloutView {
  id: string;
  kind: 'rollout' | 'rollback';
  rollbackOf: string | null;
  /** The rollback that replaced this rollout, if any. */
  rolledBackBy: string | null;
  model: string;
  version: number;
  target: RolloutTarget;
  policy: RolloutPolicy;
  status: RolloutStatus;
  reason: string;
  currentWave: number;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  totals: WaveCounts;
  waves: WaveView[];
  excluded: { deviceId: string; reason: string }[];
  /** The shadow phase, for a rollout with shadow mode. */
  shadow: ShadowView | null;
}

export interface DeviceView {
  deviceId: string;
  wave: number | null;
  state: RolloutDevice['state'];
  version: number | null;
  variant: string | null;
  sha256: string | null;
  fromVersion: string | null;
  generation: number | null;
  flagged: boolean;
  reason: string;
  sentAt: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function shadowView(loaded: LoadedRollout, live: ShadowResult | null): ShadowView | null {
  const wave = loaded.state.waves.find((w) => w.params.shadow !== undefined);
  const phase = wave?.params.shadow;
  if (wave === undefined || phase === undefined) return null;
  const { status, rate, minAgreement, minFrames, soakSeconds } = phase;
  return {
    wave: wave.index,
    status,
    rate,
    minAgreement,
    minFrames,
    soakSeconds,
    startedAt: iso(phase.startedAt),
    finishedAt: iso(phase.finishedAt),
    devices: phase.sent.length,
    result: live ?? phase.result,
    live: live !== null,
  };
}

export function rolloutView(
  loaded: LoadedRollout,
  rolledBackBy: string | null,
  liveShadow: ShadowResult | null = null,
): RolloutView {
  const { record, state } = loaded;
  const waves = state.waves.map((w) => ({
    index: w.index,
    status: w.status,
    params: {
      successThreshold: w.params.successThreshold,
      failureThreshold: w.params.failureThreshold,
      minSoakSeconds: w.params.minSoakSeconds,
      deviceTimeoutSeconds: w.params.deviceTimeoutSeconds,
    },
    counts: waveCounts(state.devices, w.index),
    startedAt: iso(w.startedAt),
    soakStartedAt: iso(w.soakStartedAt),
    finishedAt: iso(w.finishedAt),
  }));
  const totals = waves.reduce<WaveCounts>(
    (sum, w) => {
      for (const key of Object.keys(sum) as (keyof WaveCounts)[]) sum[key] += w.counts[key];
      return sum;
    },
    { total: 0, pending: 0, inProgress: 0, active: 0, failed: 0, timedOut: 0, flagged: 0 },
  );
  return {
    id: record.id,
    kind: record.kind,
    rollbackOf: record.rollbackOf,
    rolledBackBy,
    model: record.modelName,
    version: record.version,
    target: record.target,
    policy: record.policy,
    status: state.status,
    reason: state.reason,
    currentWave: state.currentWave,
    createdBy: record.createdBy,
    createdAt: record.createdAt.toISOString(),
    updatedAt: record.updatedAt.toISOString(),
    finishedAt: iso(state.finishedAt),
    totals,
    waves,
    excluded: state.devices
      .filter((d) => d.state === 'excluded')
      .map((d) => ({ deviceId: d.deviceId, reason: d.reason })),
    shadow: shadowView(loaded, liveShadow),
  };
}

export function deviceView(d: RolloutDevice): DeviceView {
  return {
    deviceId: d.deviceId,
    wave: d.wave,
    state: d.state,
    version: d.modelVersion,
    variant: d.variant,
    sha256: d.sha256,
    fromVersion: d.fromModel?.version ?? null,
    generation: d.generation,
    flagged: d.flagged,
    reason: d.reason,
    sentAt: iso(d.sentAt),
  };
}
