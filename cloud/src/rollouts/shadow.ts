// The shadow phase of a rollout, purely: the first wave's devices keep their model and run the new
// one beside it (`desired.shadow`); the phase is judged on the agreement and latency they report
// in their telemetry windows (`TelemetryWindow.shadow`). The state lives in the first wave's
// `params.shadow`, so it is saved and resumed with the wave. See `shadowPolicySchema` for the rules.
import type { ShadowSummary } from '@edgeloop/shared';
import type { RolloutEvent } from './machine.ts';
import type { ShadowPolicy } from './policy.ts';

export type ShadowStatus = 'pending' | 'running' | 'passed' | 'failed' | 'cancelled';

/** What the wave's devices reported about the shadow model since the phase (re)started. */
export interface ShadowResult {
  devices: number;
  windows: number;
  frames: number;
  agreements: number;
  errors: number;
  /** agreements / frames; null without frames. */
  agreement: number | null;
  /** Frame-weighted mean of the windows' shadow p95 (ms): mergeable, not a true quantile. */
  p95LatencyMs: number | null;
  /** The same for the current (acting) model over the same windows, for comparison. */
  activeP95LatencyMs: number | null;
}

export interface ShadowPhase extends ShadowPolicy {
  status: ShadowStatus;
  startedAt: number | null;
  finishedAt: number | null;
  /** Devices whose desired state carries this rollout's shadow (what undoing it must reach). */
  sent: string[];
  /** The measurement of the last verdict. */
  result: ShadowResult | null;
}

export type ShadowAction = { kind: 'shadow'; deviceId: string } | { kind: 'unshadow'; deviceId: string };

export type ShadowVerdict = 'wait' | 'passed' | 'failed' | 'stalled';

export function newShadowPhase(policy: ShadowPolicy): ShadowPhase {
  return { ...policy, status: 'pending', startedAt: null, finishedAt: null, sent: [], result: null };
}

/** Still to be judged (or to be started). */
export const shadowOpen = (phase: ShadowPhase | undefined): phase is ShadowPhase =>
  phase !== undefined && (phase.status === 'pending' || phase.status === 'running');

/** Ended without passing while devices still carry the shadow: they must get it removed. */
export const shadowNeedsUndo = (phase: ShadowPhase | undefined): phase is ShadowPhase =>
  phase !== undefined && (phase.status === 'failed' || phase.status === 'cancelled') && phase.sent.length > 0;

/** An operator ended the rollout during the phase: the shadow is to be undone. */
export function cancelShadow(phase: ShadowPhase, now: number): ShadowPhase {
  return shadowOpen(phase) ? { ...phase, status: 'cancelled', finishedAt: now } : phase;
}

/** One window's shadow summary with the acting model's latency of the same window. */
export interface ShadowSample {
  deviceId: string;
  shadow: ShadowSummary;
  activeLatency: { count: number; p95: number } | null;
}

export function mergeShadowSamples(samples: readonly ShadowSample[]): ShadowResult {
  const devices = new Set<string>();
  let frames = 0;
  let agreements = 0;
  let errors = 0;
  let shadowWeight = 0;
  let shadowSum = 0;
  let activeWeight = 0;
  let activeSum = 0;
  for (const s of samples) {
    devices.add(s.deviceId);
    frames += s.shadow.frames;
    agreements += s.shadow.agreements;
    errors += s.shadow.errors;
    const latency = s.shadow.latencyMs;
    if (latency && latency.count > 0) {
      shadowWeight += latency.count;
      shadowSum += latency.p95 * latency.count;
    }
    if (s.activeLatency && s.activeLatency.count > 0) {
      activeWeight += s.activeLatency.count;
      activeSum += s.activeLatency.p95 * s.activeLatency.count;
    }
  }
  return {
    devices: devices.size,
    windows: samples.length,
    frames,
    agreements,
    errors,
    agreement: frames > 0 ? agreements / frames : null,
    p95LatencyMs: shadowWeight > 0 ? shadowSum / shadowWeight : null,
    activeP95LatencyMs: activeWeight > 0 ? activeSum / activeWeight : null,
  };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const ms = (x: number | null) => (x === null ? '-' : `${x.toFixed(1)} ms`);

export function describeShadow(r: ShadowResult): string {
  return `agreement ${r.agreement === null ? '-' : pct(r.agreement)} over ${r.frames} frame(s) from ${r.devices} device(s), shadow p95 ${ms(r.p95LatencyMs)} (current model ${ms(r.activeP95LatencyMs)})`;
}

export interface ShadowStep {
  phase: ShadowPhase;
  actions: ShadowAction[];
  events: RolloutEvent[];
  verdict: ShadowVerdict;
  reason: string;
}

/**
 * One step of an open phase: starts it, sends the shadow to wave devices that do not carry it yet,
 * and once the soak is over judges `measured` (undefined: nothing measured yet).
 */
export function stepShadow(
  phase: ShadowPhase,
  wave: number,
  deviceIds: readonly string[],
  measured: ShadowResult | undefined,
  timeoutSeconds: number,
  now: number,
): ShadowStep {
  const events: RolloutEvent[] = [];
  const actions: ShadowAction[] = [];
  let next = phase;
  if (next.status === 'pending') {
    next = { ...next, status: 'running', startedAt: now };
    events.push({
      kind: 'shadow.started',
      wave,
      deviceId: null,
      reason: `shadow phase started on ${deviceIds.length} device(s) at rate ${next.rate}`,
    });
  }
  const carrying = new Set(next.sent);
  const toSend = deviceIds.filter((id) => !carrying.has(id));
  if (toSend.length > 0) {
    next = { ...next, sent: [...next.sent, ...toSend] };
    for (const deviceId of toSend) {
      actions.push({ kind: 'shadow', deviceId });
      events.push({ kind: 'device.shadow_sent', wave, deviceId, reason: 'shadow model sent' });
    }
  }
  const wait = (reason: string): ShadowStep => ({ phase: next, actions, events, verdict: 'wait', reason });
  const elapsed = now - (next.startedAt ?? now);
  if (elapsed < next.soakSeconds * 1000) return wait('soaking');
  if (measured === undefined) return wait('nothing measured yet');
  if (measured.frames < next.minFrames) {
    if (elapsed < (next.soakSeconds + timeoutSeconds) * 1000) return wait('too few frames');
    const reason = `shadow phase stalled: ${measured.frames} shadow frame(s) < ${next.minFrames} after ${Math.round(elapsed / 1000)}s`;
    return { phase: { ...next, result: measured }, actions, events, verdict: 'stalled', reason };
  }
  const agreement = measured.agreement ?? 0;
  const summary = describeShadow(measured);
  if (agreement >= next.minAgreement) {
    const reason = `shadow phase passed: ${summary} (min ${pct(next.minAgreement)})`;
    next = { ...next, status: 'passed', finishedAt: now, sent: [], result: measured };
    events.push({ kind: 'shadow.passed', wave, deviceId: null, reason, data: { ...measured } });
    return { phase: next, actions, events, verdict: 'passed', reason };
  }
  const reason = `shadow phase failed: ${summary} < ${pct(next.minAgreement)}`;
  events.push({ kind: 'shadow.failed', wave, deviceId: null, reason, data: { ...measured } });
  return { phase: { ...next, result: measured }, actions, events, verdict: 'failed', reason };
}
