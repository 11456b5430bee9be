import type { ModelRef, UpdatePhase } from '@edgeloop/shared';
import { describe, expect, it } from 'vitest';
import { applyCommand } from './commands.ts';
import type { GateResult } from './gates.ts';
import {
  advance,
  type DeviceObservation,
  type RolloutDevice,
  type RolloutState,
  waveCounts,
} from './machine.ts';
import { reported } from './testing.ts';

const NEW = 'a'.repeat(64);
const OLD = 'b'.repeat(64);
const OLD_REF: ModelRef = { name: 'digits', version: '1', variant: 'int8', sha256: OLD };
const S = 1000;
const params = { successThreshold: 100, failureThreshold: 50, minSoakSeconds: 60, deviceTimeoutSeconds: 300 };

function rollout(waves: string[][], overrides: Partial<RolloutState> = {}): RolloutState {
  const devices: RolloutDevice[] = waves.flatMap((ids, wave) =>
    ids.map((deviceId) => ({
      deviceId,
      wave,
      state: 'pending' as const,
      modelVersion: 2,
      variant: 'int8' as const,
      sha256: NEW,
      chunkSize: 65536,
      fromModel: OLD_REF,
      generation: null,
      flagged: false,
      reason: '',
      sentAt: null,
    })),
  );
  return {
    id: 'ro-1',
    kind: 'rollout',
    modelName: 'digits',
    version: 2,
    status: 'running',
    reason: 'created',
    onFailure: 'rollback',
    currentWave: 0,
    finishedAt: null,
    waves: waves.map((_, index) => ({
      index,
      status: 'pending',
      params,
      acceptedFailures: 0,
      startedAt: null,
      soakStartedAt: null,
      finishedAt: null,
    })),
    devices,
    ...overrides,
  };
}

/** Simulates the scheduler's publish: every sent device gets generation 10. */
function sendAll(state: RolloutState): RolloutState {
  return {
    ...state,
    devices: state.devices.map((d) =>
      d.state === 'sent' && d.generation === null ? { ...d, generation: 10 } : d,
    ),
  };
}

type Reports = Record<string, UpdatePhase | [UpdatePhase, { generation?: number; connection?: 'offline' }]>;
function observe(reports: Reports = {}, gates?: GateResult[]) {
  const devices = new Map<string, DeviceObservation>();
  for (const [id, value] of Object.entries(reports)) {
    const [phase, options] = Array.isArray(value) ? value : [value, {}];
    devices.set(id, {
      reported: reported(phase, { generation: options.generation ?? 10, rolloutId: 'ro-1' }),
      connection: options.connection ?? 'online',
    });
  }
  return { devices, ...(gates ? { gates } : {}) };
}

const active = (sha256 = NEW): UpdatePhase => ({ state: 'active', sha256 });
const failed = (reason: 'GOLDEN_CHECK_FAILED' | 'TIMEOUT'): UpdatePhase => ({
  state: 'failed',
  sha256: NEW,
  reason,
  message: 'x',
});
const stateOf = (s: RolloutState, id: string) => s.devices.find((d) => d.deviceId === id)?.state;

describe('advance', () => {
  it('starts the first wave by sending only its devices', () => {
    const step = advance(rollout([['a'], ['b', 'c']]), observe(), 0);
    expect(step.actions).toEqual([{ kind: 'send', deviceId: 'a' }]);
    expect(step.state.waves[0]).toMatchObject({ status: 'running', startedAt: 0 });
    expect(stateOf(step.state, 'a')).toBe('sent');
    expect(stateOf(step.state, 'b')).toBe('pending');
    expect(step.events.map((e) => e.kind)).toEqual(['wave.started', 'device.sent']);
  });

  it('soaks a wave once it is active, then passes it and starts the next', () => {
    let s = sendAll(advance(rollout([['a', 'b'], ['c']]), observe(), 0).state);
    let step = advance(
      s,
      observe({ a: active(), b: { state: 'downloading', sha256: NEW, receivedChunks: 1, totalChunks: 4 } }),
      10 * S,
    );
    expect(stateOf(step.state, 'b')).toBe('downloading');
    expect(step.state.waves[0]?.status).toBe('running');
    step = advance(step.state, observe({ a: active(), b: active() }), 20 * S);
    expect(step.state.waves[0]).toMatchObject({ status: 'soaking', soakStartedAt: 20 * S });
    s = step.state;
    // One second short of the soak: nothing moves.
    step = advance(s, observe({ a: active(), b: active() }), 79 * S);
    expect(step.actions).toEqual([]);
    expect(step.state.waves[0]?.status).toBe('soaking');
    step = advance(s, observe({ a: active(), b: active() }), 80 * S);
    expect(step.state.waves[0]?.status).toBe('passed');
    expect(step.state.currentWave).toBe(1);
    expect(step.actions).toEqual([{ kind: 'send', deviceId: 'c' }]);

    s = sendAll(step.state);
    step = advance(s, observe({ a: active(), b: active(), c: active() }), 90 * S);
    step = advance(step.state, observe({ a: active(), b: active(), c: active() }), 150 * S);
    expect(step.state.status).toBe('completed');
    expect(step.state.finishedAt).toBe(150 * S);
    expect(step.events.at(-1)).toMatchObject({ kind: 'rollout.completed' });
  });

  it('trips the failure threshold and asks for a rollback', () => {
    const s = sendAll(advance(rollout([['a', 'b', 'c', 'd']]), observe(), 0).state);
    // One of four failed: 25% < 50%.
    let step = advance(s, observe({ a: failed('GOLDEN_CHECK_FAILED') }), S);
    expect(step.state.status).toBe('running');
    step = advance(
      step.state,
      observe({ a: failed('GOLDEN_CHECK_FAILED'), b: failed('GOLDEN_CHECK_FAILED') }),
      2 * S,
    );
    expect(step.state.status).toBe('rolled_back');
    expect(step.state.waves[0]?.status).toBe('failed');
    expect(step.actions).toEqual([
      { kind: 'rollback', reason: 'wave 0: 2 of 4 devices failed or rolled back (50% >= 50%)' },
    ]);
    expect(step.events.map((e) => e.kind)).toEqual(['device.failed', 'wave.failed', 'rollout.rolling_back']);
  });

  it('pauses instead when the policy says so, and a rollback never rolls back', () => {
    for (const overrides of [{ onFailure: 'pause' as const }, { kind: 'rollback' as const }]) {
      const s = sendAll(advance(rollout([['a']], overrides), observe(), 0).state);
      const step = advance(
        s,
        observe({ a: { state: 'rolled_back', sha256: NEW, reason: 'CRASH_LOOP', message: 'boom' } }),
        S,
      );
      expect(step.state.status).toBe('paused');
      expect(step.actions).toEqual([]);
      expect(step.state.reason).toMatch(/1 of 1 devices failed/);
    }
  });

  it('counts a transient failure as retrying, not as failed', () => {
    const s = sendAll(advance(rollout([['a', 'b']]), observe(), 0).state);
    const step = advance(s, observe({ a: failed('TIMEOUT'), b: failed('TIMEOUT') }), S);
    expect(step.state.status).toBe('running');
    expect(waveCounts(step.state.devices, 0)).toMatchObject({ inProgress: 2, failed: 0 });
  });

  it('times out devices that stay offline, pausing (not failing) a wave they stall', () => {
    const s = sendAll(advance(rollout([['a', 'b']]), observe(), 0).state);
    const offline = observe({});
    offline.devices.set('a', { reported: null, connection: 'offline' });
    offline.devices.set('b', { reported: null, connection: 'offline' });
    let step = advance(s, offline, 299 * S);
    expect(stateOf(step.state, 'a')).toBe('sent');
    step = advance(step.state, offline, 300 * S);
    expect(stateOf(step.state, 'a')).toBe('timed_out');
    expect(step.state.devices[0]?.reason).toBe('not active 300s after it was sent (device offline)');
    expect(step.state.status).toBe('paused');
    expect(step.actions).toEqual([]);
    expect(step.state.reason).toMatch(/wave 0 stalled: 0 of 2 active .* 2 timed out/);

    // A device back from its outage catches up from the retained desired state: late but counted.
    step = advance(step.state, observe({ a: active() }), 400 * S);
    expect(stateOf(step.state, 'a')).toBe('active');
  });

  it('flags a device that reports active for an artifact it was never sent, and does not count it', () => {
    const s = sendAll(advance(rollout([['a']]), observe(), 0).state);
    const rogue = 'c'.repeat(64);
    let step = advance(s, observe({ a: active(rogue) }), S);
    expect(step.state.devices[0]).toMatchObject({ state: 'sent', flagged: true });
    expect(step.events).toEqual([
      {
        kind: 'device.flagged',
        wave: 0,
        deviceId: 'a',
        reason: `reported active for artifact ${rogue}, which it was never sent`,
      },
    ]);
    expect(step.state.waves[0]?.status).toBe('running');
    // Flagged once, not on every tick.
    step = advance(step.state, observe({ a: active(rogue) }), 2 * S);
    expect(step.events).toEqual([]);
    // Still on the old model, or a report about an older desired state, means nothing new.
    step = advance(s, observe({ a: active(OLD) }), S);
    expect(step.events).toEqual([]);
    step = advance(s, observe({ a: [failed('GOLDEN_CHECK_FAILED'), { generation: 9 }] }), S);
    expect(stateOf(step.state, 'a')).toBe('sent');
  });

  it('trips on a failed health gate while soaking', () => {
    let s = sendAll(advance(rollout([['a'], ['b']]), observe(), 0).state);
    s = advance(s, observe({ a: active() }), S).state;
    const gate: GateResult = {
      gate: 'errorRate',
      verdict: 'fail',
      reason: 'errorRate: error rate 0.300 vs 0.010 on the old model (max +0.05)',
      candidate: 0.3,
      baseline: 0.01,
    };
    const step = advance(s, observe({ a: active() }, [gate]), 2 * S);
    expect(step.state.status).toBe('rolled_back');
    expect(step.actions[0]).toEqual({
      kind: 'rollback',
      reason: 'wave 0: health gate failed: errorRate: error rate 0.300 vs 0.010 on the old model (max +0.05)',
    });
  });

  it('records progress but starts nothing while paused', () => {
    const s = sendAll(advance(rollout([['a'], ['b']]), observe(), 0).state);
    const paused = applyCommand(s, { kind: 'pause', reason: 'lunch' }, S).state;
    const step = advance(paused, observe({ a: active() }), 500 * S);
    expect(stateOf(step.state, 'a')).toBe('active');
    expect(step.actions).toEqual([]);
    expect(step.state.waves[0]?.status).toBe('running');
  });
});

describe('applyCommand', () => {
  it('resumes a tripped wave with its failures accepted and timeouts restarted', () => {
    const base = rollout([['a', 'b', 'c', 'd']], { onFailure: 'pause' });
    let s = sendAll(advance(base, observe(), 0).state);
    s = advance(s, observe({ a: failed('GOLDEN_CHECK_FAILED'), b: failed('GOLDEN_CHECK_FAILED') }), S).state;
    expect(s.status).toBe('paused');
    s = advance(
      s,
      observe({ a: failed('GOLDEN_CHECK_FAILED'), b: failed('GOLDEN_CHECK_FAILED') }),
      400 * S,
    ).state;
    expect(waveCounts(s.devices, 0)).toMatchObject({ failed: 2, timedOut: 2 });

    const resumed = applyCommand(s, { kind: 'resume', reason: 'known issue' }, 500 * S);
    expect(resumed.state.status).toBe('running');
    expect(resumed.state.waves[0]?.acceptedFailures).toBe(2);
    expect(resumed.state.devices.filter((d) => d.state === 'sent').map((d) => d.sentAt)).toEqual([
      500 * S,
      500 * S,
    ]);
    const after = advance(
      resumed.state,
      observe({ a: failed('GOLDEN_CHECK_FAILED'), b: failed('GOLDEN_CHECK_FAILED') }),
      501 * S,
    );
    expect(after.state.status).toBe('running');
  });

  it('refuses commands the status does not allow', () => {
    const s = rollout([['a']]);
    expect(() => applyCommand(s, { kind: 'resume', reason: '' }, 0)).toThrow(/only a paused rollout/);
    const aborted = applyCommand(s, { kind: 'abort', reason: 'wrong model' }, 0).state;
    expect(aborted).toMatchObject({ status: 'aborted', finishedAt: 0 });
    expect(() => applyCommand(aborted, { kind: 'pause', reason: '' }, 0)).toThrow(/is aborted/);
    expect(() => applyCommand(aborted, { kind: 'rollback', reason: '' }, 0)).toThrow(
      /running, paused or completed/,
    );
    expect(() =>
      applyCommand(rollout([['a']], { kind: 'rollback' }), { kind: 'rollback', reason: '' }, 0),
    ).toThrow(/cannot itself be rolled back/);
    const rollback = applyCommand(s, { kind: 'rollback', reason: 'bad accuracy' }, 5);
    expect(rollback.actions).toEqual([{ kind: 'rollback', reason: 'bad accuracy' }]);
    expect(rollback.state.status).toBe('rolled_back');
  });
});
