// The shadow phase in the pure state machine: sent to the first wave only, judged after its soak on
// frames and agreement, then either the wave starts as usual or the shadow is undone / paused.
import type { ModelRef } from '@edgeloop/shared';
import { describe, expect, it } from 'vitest';
import { applyCommand } from './commands.ts';
import { advance, type Observations, type RolloutState } from './machine.ts';
import { mergeShadowSamples, newShadowPhase, type ShadowResult } from './shadow.ts';

const NEW = 'a'.repeat(64);
const OLD: ModelRef = { name: 'digits', version: '1', variant: 'int8', sha256: 'b'.repeat(64) };
const S = 1000;
const params = { successThreshold: 100, failureThreshold: 50, minSoakSeconds: 0, deviceTimeoutSeconds: 300 };
const policy = { rate: 0.25, minAgreement: 0.9, minFrames: 100, soakSeconds: 60 };

function rollout(waves: string[][], onFailure: 'pause' | 'rollback' = 'rollback'): RolloutState {
  return {
    id: 'ro-1',
    kind: 'rollout',
    modelName: 'digits',
    version: 2,
    status: 'running',
    reason: 'created',
    onFailure,
    currentWave: 0,
    finishedAt: null,
    waves: waves.map((_, index) => ({
      index,
      status: 'pending',
      params: index === 0 ? { ...params, shadow: newShadowPhase(policy) } : params,
      acceptedFailures: 0,
      startedAt: null,
      soakStartedAt: null,
      finishedAt: null,
    })),
    devices: waves.flatMap((ids, wave) =>
      ids.map((deviceId) => ({
        deviceId,
        wave,
        state: 'pending' as const,
        modelVersion: 2,
        variant: 'int8' as const,
        sha256: NEW,
        chunkSize: 65536,
        fromModel: OLD,
        generation: null,
        flagged: false,
        reason: '',
        sentAt: null,
      })),
    ),
  };
}

const result = (frames: number, agreements: number): ShadowResult =>
  mergeShadowSamples([
    {
      deviceId: 'a',
      shadow: {
        model: { ...OLD, version: '2', sha256: NEW },
        frames,
        agreements,
        errors: 0,
        latencyMs: { count: frames, min: 1, p50: 2, p95: 6, p99: 7, max: 8, mean: 2 },
      },
      activeLatency: { count: 4 * frames, p95: 4 },
    },
  ]);
const observe = (shadow?: ShadowResult): Observations => ({
  devices: new Map(),
  ...(shadow ? { shadow } : {}),
});
const kinds = (events: { kind: string }[]) => events.map((e) => e.kind);

describe('shadow phase', () => {
  it('sends the shadow to the first wave only, and holds the wave until the soak is over', () => {
    const step = advance(rollout([['a', 'b'], ['c']]), observe(), 0);
    expect(step.actions).toEqual([
      { kind: 'shadow', deviceId: 'a' },
      { kind: 'shadow', deviceId: 'b' },
    ]);
    expect(step.state.waves[0]?.params.shadow).toMatchObject({
      status: 'running',
      startedAt: 0,
      sent: ['a', 'b'],
    });
    expect(step.state.waves[0]?.status).toBe('pending');
    expect(step.state.devices.every((d) => d.state === 'pending')).toBe(true);
    // Enough agreeing frames, but the soak is not over: nothing moves, nothing is sent again.
    const early = advance(step.state, observe(result(500, 500)), 59 * S);
    expect(early.actions).toEqual([]);
    expect(early.events).toEqual([]);
  });

  it('passes on enough frames and agreement, then starts the wave with the new model', () => {
    const started = advance(rollout([['a', 'b'], ['c']]), observe(), 0).state;
    // Soak over but too few frames: wait.
    expect(advance(started, observe(result(99, 99)), 60 * S).events).toEqual([]);
    const step = advance(started, observe(result(200, 190)), 60 * S);
    expect(kinds(step.events)).toEqual(['shadow.passed', 'wave.started', 'device.sent', 'device.sent']);
    expect(step.events[0]?.reason).toBe(
      'shadow phase passed: agreement 95.0% over 200 frame(s) from 1 device(s), shadow p95 6.0 ms (current model 4.0 ms) (min 90.0%)',
    );
    expect(step.actions).toEqual([
      { kind: 'send', deviceId: 'a' },
      { kind: 'send', deviceId: 'b' },
    ]);
    expect(step.state.waves[0]?.params.shadow).toMatchObject({
      status: 'passed',
      sent: [],
      result: { frames: 200, agreements: 190, agreement: 0.95, p95LatencyMs: 6, activeP95LatencyMs: 4 },
    });
  });

  it('fails below the agreement: rolls back by removing the shadow from every device', () => {
    const started = advance(rollout([['a', 'b'], ['c']]), observe(), 0).state;
    const step = advance(started, observe(result(200, 150)), 61 * S);
    expect(step.state).toMatchObject({ status: 'rolled_back', finishedAt: 61 * S });
    expect(step.state.reason).toMatch(
      /^shadow phase failed: agreement 75\.0% over 200 frame\(s\).* < 90\.0%$/,
    );
    expect(kinds(step.events)).toEqual(['shadow.failed', 'rollout.rolling_back', 'shadow.undone']);
    expect(step.actions).toEqual([
      { kind: 'unshadow', deviceId: 'a' },
      { kind: 'unshadow', deviceId: 'b' },
    ]);
    expect(step.state.waves[0]).toMatchObject({
      status: 'failed',
      params: { shadow: { status: 'failed', sent: [] } },
    });
    expect(step.state.devices.every((d) => d.state === 'pending')).toBe(true); // nobody switched
  });

  it('pauses on failure when the policy says so, and a resume measures afresh', () => {
    const started = advance(rollout([['a'], ['b']], 'pause'), observe(), 0).state;
    const paused = advance(started, observe(result(200, 100)), 60 * S);
    expect(paused.state.status).toBe('paused');
    expect(paused.actions).toEqual([]); // the device keeps shadowing for the operator to look at
    expect(paused.state.waves[0]?.params.shadow).toMatchObject({ status: 'running', sent: ['a'] });
    const resumed = applyCommand(paused.state, { kind: 'resume', reason: 'try again' }, 100 * S);
    expect(resumed.state.waves[0]?.params.shadow).toMatchObject({ startedAt: 100 * S, result: null });
    expect(advance(resumed.state, observe(result(200, 200)), 120 * S).events).toEqual([]);
    expect(kinds(advance(resumed.state, observe(result(200, 200)), 160 * S).events)).toContain(
      'shadow.passed',
    );
  });

  it('pauses as stalled when too few frames arrive within the soak plus the device timeout', () => {
    const started = advance(rollout([['a'], ['b']]), observe(), 0).state;
    expect(advance(started, observe(result(10, 10)), 359 * S).events).toEqual([]);
    const stalled = advance(started, observe(result(10, 10)), 360 * S);
    expect(stalled.state).toMatchObject({ status: 'paused' });
    expect(stalled.state.reason).toBe('shadow phase stalled: 10 shadow frame(s) < 100 after 360s');
  });

  it('an abort during the phase undoes the shadow at the next step', () => {
    const started = advance(rollout([['a', 'b'], ['c']]), observe(), 0).state;
    const aborted = applyCommand(started, { kind: 'abort', reason: 'wrong model' }, 10 * S);
    expect(aborted.state.waves[0]?.params.shadow).toMatchObject({ status: 'cancelled', sent: ['a', 'b'] });
    const step = advance(aborted.state, observe(), 11 * S);
    expect(step.actions).toEqual([
      { kind: 'unshadow', deviceId: 'a' },
      { kind: 'unshadow', deviceId: 'b' },
    ]);
    expect(kinds(step.events)).toEqual(['shadow.undone']);
    expect(advance(step.state, observe(), 12 * S).actions).toEqual([]); // once
  });
});
