// The rollout state machine, pure: `advance(state, observations, now)` reads what devices reported
// and returns the next state, the actions for the scheduler to carry out (send a desired state,
// create the rollback) and the events that explain every transition. No clock, database or MQTT in
// here, so every threshold, soak and timeout rule is tested with plain numbers.
import type { ErrorCode, ModelRef, ReportedState } from '@edgeloop/shared';
import type { GateResult } from './gates.ts';
import type { WaveParams } from './policy.ts';
import { type ShadowAction, type ShadowResult, shadowNeedsUndo, shadowOpen, stepShadow } from './shadow.ts';

export type RolloutStatus = 'running' | 'paused' | 'completed' | 'aborted' | 'rolled_back';
export type WaveStatus = 'pending' | 'running' | 'soaking' | 'passed' | 'failed';
export type DeviceRolloutState =
  | 'excluded'
  | 'pending'
  | 'sent'
  | 'downloading'
  | 'verifying'
  | 'activating'
  | 'retrying'
  | 'active'
  | 'failed'
  | 'rolled_back'
  | 'rejected'
  | 'timed_out';

export const ACTIVE_STATUSES: readonly RolloutStatus[] = ['running', 'paused'];
const IN_PROGRESS: ReadonlySet<DeviceRolloutState> = new Set([
  'sent',
  'downloading',
  'verifying',
  'activating',
  'retrying',
]);
const FAILED: ReadonlySet<DeviceRolloutState> = new Set(['failed', 'rolled_back', 'rejected']);

/** Failures that say the artifact is bad on this device: the agent will not retry them. */
const PERMANENT_FAILURES: ReadonlySet<ErrorCode> = new Set([
  'SIGNATURE_INVALID',
  'SIGNATURE_MISSING',
  'MODEL_INVALID',
  'MODEL_LOAD_FAILED',
  'GOLDEN_CHECK_FAILED',
  'MODEL_TOO_LARGE',
  'CRASH_LOOP',
]);

export interface RolloutDevice {
  deviceId: string;
  wave: number | null;
  state: DeviceRolloutState;
  modelVersion: number | null;
  variant: 'fp32' | 'int8' | null;
  sha256: string | null;
  chunkSize: number | null;
  fromModel: ModelRef | null;
  generation: number | null;
  flagged: boolean;
  reason: string;
  sentAt: number | null;
}

export interface RolloutWave {
  index: number;
  status: WaveStatus;
  params: WaveParams;
  acceptedFailures: number;
  startedAt: number | null;
  soakStartedAt: number | null;
  finishedAt: number | null;
}

export interface RolloutState {
  id: string;
  kind: 'rollout' | 'rollback';
  modelName: string;
  version: number;
  status: RolloutStatus;
  reason: string;
  onFailure: 'pause' | 'rollback';
  currentWave: number;
  finishedAt: number | null;
  waves: RolloutWave[];
  devices: RolloutDevice[];
}

export interface DeviceObservation {
  reported: ReportedState | null;
  connection: 'online' | 'offline' | 'unknown';
}

export interface Observations {
  devices: ReadonlyMap<string, DeviceObservation>;
  /** Gate verdicts for the current wave while it soaks (the scheduler measures them). */
  gates?: readonly GateResult[];
  /** The current wave's shadow results while its shadow phase runs (the scheduler measures them). */
  shadow?: ShadowResult;
}

export type RolloutAction =
  | { kind: 'send'; deviceId: string }
  | { kind: 'rollback'; reason: string }
  | ShadowAction;

export interface RolloutEvent {
  kind: string;
  wave: number | null;
  deviceId: string | null;
  reason: string;
  data?: Record<string, unknown>;
}

export interface Step {
  state: RolloutState;
  actions: RolloutAction[];
  events: RolloutEvent[];
}

export interface WaveCounts {
  total: number;
  pending: number;
  inProgress: number;
  active: number;
  failed: number;
  timedOut: number;
  flagged: number;
}

export function waveCounts(devices: readonly RolloutDevice[], wave: number): WaveCounts {
  const counts: WaveCounts = {
    total: 0,
    pending: 0,
    inProgress: 0,
    active: 0,
    failed: 0,
    timedOut: 0,
    flagged: 0,
  };
  for (const d of devices) {
    if (d.wave !== wave) continue;
    counts.total++;
    if (d.flagged) counts.flagged++;
    if (d.state === 'pending') counts.pending++;
    else if (IN_PROGRESS.has(d.state)) counts.inProgress++;
    else if (d.state === 'active') counts.active++;
    else if (FAILED.has(d.state)) counts.failed++;
    else if (d.state === 'timed_out') counts.timedOut++;
  }
  return counts;
}

const pct = (part: number, whole: number) => (whole === 0 ? 0 : (part / whole) * 100);
const round = (n: number) => Math.round(n * 10) / 10;

/** What a report says about one sent device: its new state, or a flag, or nothing new. */
export function interpretReport(
  device: RolloutDevice,
  reported: ReportedState,
): { state: DeviceRolloutState; reason: string } | { flag: string } | null {
  const phase = reported.phase;
  if (phase.state === 'active') {
    if (phase.sha256 === device.sha256) return { state: 'active', reason: 'reported active' };
    if (phase.sha256 === device.fromModel?.sha256) return null; // still on the old model
    return { flag: `reported active for artifact ${phase.sha256}, which it was never sent` };
  }
  // Reports answering another desired state say nothing about ours: an older one, or one the cloud
  // never sent (a forged desired state the device refused; found by the chaos suite, seed 23).
  if (device.generation !== null && reported.generation !== device.generation) return null;
  switch (phase.state) {
    case 'downloading':
    case 'verifying':
    case 'activating':
      return phase.sha256 === device.sha256
        ? {
            state: phase.state,
            reason:
              phase.state === 'downloading'
                ? `chunk ${phase.receivedChunks}/${phase.totalChunks}`
                : `reported ${phase.state}`,
          }
        : null;
    case 'failed':
      return {
        state: PERMANENT_FAILURES.has(phase.reason) ? 'failed' : 'retrying',
        reason: `${phase.reason}: ${phase.message}`,
      };
    case 'rolled_back':
      return { state: 'rolled_back', reason: `${phase.reason}: ${phase.message}` };
    case 'rejected':
      return { state: 'rejected', reason: `${phase.reason}: ${phase.message}` };
    default:
      return null;
  }
}

/** One step of a rollout. Paused and finished rollouts still record device progress. */
export function advance(state: RolloutState, observations: Observations, now: number): Step {
  const events: RolloutEvent[] = [];
  const actions: RolloutAction[] = [];
  const timeouts = new Map(state.waves.map((w) => [w.index, w.params.deviceTimeoutSeconds * 1000]));
  let devices = state.devices.map((device) =>
    observeDevice(device, observations.devices.get(device.deviceId), timeouts, now, events),
  );
  let waves = state.waves;
  let next: RolloutState = { ...state, devices, waves };
  if (next.status !== 'running') {
    waves = undoShadows(waves, actions, events);
    return { state: { ...next, waves }, actions, events };
  }

  const setWave = (index: number, patch: Partial<RolloutWave>) => {
    waves = waves.map((w) => (w.index === index ? { ...w, ...patch } : w));
  };
  const trip = (index: number, reason: string): void => {
    if (state.onFailure === 'rollback' && state.kind === 'rollout') {
      setWave(index, { status: 'failed', finishedAt: now });
      next = { ...next, status: 'rolled_back', reason, finishedAt: now };
      actions.push({ kind: 'rollback', reason });
      events.push({ kind: 'wave.failed', wave: index, deviceId: null, reason });
      events.push({ kind: 'rollout.rolling_back', wave: index, deviceId: null, reason });
    } else {
      next = { ...next, status: 'paused', reason };
      events.push({ kind: 'rollout.paused', wave: index, deviceId: null, reason });
    }
  };

  // A passing wave hands over to the next one in the same step, hence the loop.
  for (;;) {
    const wave = waves.find((w) => w.index === next.currentWave);
    if (wave === undefined) {
      const reason = `all ${waves.length} wave(s) passed`;
      next = { ...next, status: 'completed', reason, finishedAt: now };
      events.push({ kind: 'rollout.completed', wave: null, deviceId: null, reason });
      break;
    }
    const shadow = wave.params.shadow;
    if (shadowOpen(shadow)) {
      const ids = devices.filter((d) => d.wave === wave.index).map((d) => d.deviceId);
      const timeout = wave.params.deviceTimeoutSeconds;
      const s = stepShadow(shadow, wave.index, ids, observations.shadow, timeout, now);
      setWave(wave.index, { params: { ...wave.params, shadow: s.phase } });
      actions.push(...s.actions);
      events.push(...s.events);
      if (s.verdict === 'wait') break;
      if (s.verdict === 'stalled' || (s.verdict === 'failed' && state.onFailure === 'pause')) {
        // Paused, the devices keep shadowing; a resume measures the phase afresh.
        next = { ...next, status: 'paused', reason: s.reason };
        events.push({ kind: 'rollout.paused', wave: wave.index, deviceId: null, reason: s.reason });
        break;
      }
      if (s.verdict === 'failed') {
        // Nothing switched models yet: rolling back is removing the shadow (below, same step).
        const failed = { ...s.phase, status: 'failed' as const, finishedAt: now };
        setWave(wave.index, {
          status: 'failed',
          finishedAt: now,
          params: { ...wave.params, shadow: failed },
        });
        next = { ...next, status: 'rolled_back', reason: s.reason, finishedAt: now };
        events.push({ kind: 'rollout.rolling_back', wave: wave.index, deviceId: null, reason: s.reason });
        break;
      }
    }
    if (wave.status === 'pending') {
      setWave(wave.index, { status: 'running', startedAt: now });
      events.push({
        kind: 'wave.started',
        wave: wave.index,
        deviceId: null,
        reason: `wave ${wave.index} started`,
      });
    }
    // Devices of the current wave not sent yet: at its start, after a failed publish, after resume.
    devices = devices.map((d) => {
      if (d.wave !== wave.index || d.state !== 'pending') return d;
      actions.push({ kind: 'send', deviceId: d.deviceId });
      events.push({
        kind: 'device.sent',
        wave: wave.index,
        deviceId: d.deviceId,
        reason: 'desired state sent',
      });
      return { ...d, state: 'sent', sentAt: now, reason: 'desired state sent' };
    });
    const current = waves.find((w) => w.index === wave.index) as RolloutWave;
    const counts = waveCounts(devices, wave.index);
    const { params } = current;
    const failures = Math.max(0, counts.failed - current.acceptedFailures);
    if (failures > 0 && pct(failures, counts.total) >= params.failureThreshold) {
      trip(
        wave.index,
        `wave ${wave.index}: ${failures} of ${counts.total} devices failed or rolled back (${round(pct(failures, counts.total))}% >= ${params.failureThreshold}%)`,
      );
      break;
    }
    const activePct = pct(counts.active, counts.total);
    if (activePct >= params.successThreshold) {
      let soakStartedAt = current.soakStartedAt;
      if (current.status !== 'soaking' || soakStartedAt === null) {
        soakStartedAt = now;
        setWave(wave.index, { status: 'soaking', soakStartedAt });
        events.push({
          kind: 'wave.soaking',
          wave: wave.index,
          deviceId: null,
          reason: `${counts.active} of ${counts.total} active (${round(activePct)}% >= ${params.successThreshold}%)`,
        });
      }
      const failed = observations.gates?.filter((g) => g.verdict === 'fail') ?? [];
      if (failed.length > 0) {
        trip(wave.index, `wave ${wave.index}: health gate failed: ${failed.map((g) => g.reason).join('; ')}`);
        break;
      }
      if (now - soakStartedAt < params.minSoakSeconds * 1000) break;
      setWave(wave.index, { status: 'passed', finishedAt: now });
      events.push({
        kind: 'wave.passed',
        wave: wave.index,
        deviceId: null,
        reason: `soaked ${params.minSoakSeconds}s with ${counts.active} of ${counts.total} active`,
        data: { gates: observations.gates ?? [] },
      });
      next = { ...next, currentWave: wave.index + 1 };
      continue;
    }
    if (current.status === 'soaking') {
      setWave(wave.index, { status: 'running', soakStartedAt: null });
      events.push({
        kind: 'wave.soak_interrupted',
        wave: wave.index,
        deviceId: null,
        reason: `only ${counts.active} of ${counts.total} active now`,
      });
    }
    if (counts.inProgress === 0 && counts.pending === 0) {
      // Everyone has answered or timed out and too few are active. Timeouts say nothing about the
      // model, so this pauses for the operator instead of tripping the failure policy.
      const reason = `wave ${wave.index} stalled: ${counts.active} of ${counts.total} active (< ${params.successThreshold}%), ${counts.timedOut} timed out, ${counts.failed} failed`;
      next = { ...next, status: 'paused', reason };
      events.push({ kind: 'rollout.paused', wave: wave.index, deviceId: null, reason });
    }
    break;
  }
  waves = undoShadows(waves, actions, events);
  return { state: { ...next, devices, waves }, actions, events };
}

/** Removes an ended shadow phase's shadow from every device still carrying it. */
function undoShadows(waves: RolloutWave[], actions: RolloutAction[], events: RolloutEvent[]): RolloutWave[] {
  return waves.map((w) => {
    const shadow = w.params.shadow;
    if (!shadowNeedsUndo(shadow)) return w;
    for (const deviceId of shadow.sent) actions.push({ kind: 'unshadow', deviceId });
    events.push({
      kind: 'shadow.undone',
      wave: w.index,
      deviceId: null,
      reason: `shadow model removed from ${shadow.sent.length} device(s)`,
      data: { devices: shadow.sent },
    });
    return { ...w, params: { ...w.params, shadow: { ...shadow, sent: [] } } };
  });
}

function observeDevice(
  device: RolloutDevice,
  observed: DeviceObservation | undefined,
  timeouts: ReadonlyMap<number, number>,
  now: number,
  events: RolloutEvent[],
): RolloutDevice {
  if (device.state === 'pending' || device.state === 'excluded') return device;
  let next = device;
  const verdict = observed?.reported ? interpretReport(device, observed.reported) : null;
  if (verdict && 'flag' in verdict) {
    if (!device.flagged) {
      next = { ...next, flagged: true };
      events.push({
        kind: 'device.flagged',
        wave: device.wave,
        deviceId: device.deviceId,
        reason: verdict.flag,
      });
    }
  } else if (verdict && verdict.state !== device.state) {
    next = { ...next, state: verdict.state, reason: verdict.reason };
    events.push({
      kind: `device.${verdict.state}`,
      wave: device.wave,
      deviceId: device.deviceId,
      reason: verdict.reason,
    });
  }
  if (IN_PROGRESS.has(next.state) && next.sentAt !== null && device.wave !== null) {
    const timeoutMs = timeouts.get(device.wave) ?? Number.POSITIVE_INFINITY;
    if (now - next.sentAt >= timeoutMs) {
      const connection = observed?.connection ?? 'unknown';
      const reason = `not active ${Math.round((now - next.sentAt) / 1000)}s after it was sent (device ${connection})`;
      next = { ...next, state: 'timed_out', reason };
      events.push({ kind: 'device.timed_out', wave: device.wave, deviceId: device.deviceId, reason });
    }
  }
  return next;
}
