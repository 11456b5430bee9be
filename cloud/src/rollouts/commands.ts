// Operator commands on a rollout, purely: pause, resume, abort and rollback as transitions of the
// same state the scheduler advances, refused (CONFLICT) when the rollout's status does not allow them.
import { EdgeloopError } from '@edgeloop/shared';
import {
  ACTIVE_STATUSES,
  type RolloutEvent,
  type RolloutState,
  type RolloutWave,
  type Step,
  waveCounts,
} from './machine.ts';
import { cancelShadow, shadowOpen } from './shadow.ts';

/** Ends an open shadow phase: the scheduler then removes the shadow from its devices. */
function cancelShadows(waves: RolloutWave[], now: number): RolloutWave[] {
  return waves.map((w) =>
    shadowOpen(w.params.shadow)
      ? { ...w, params: { ...w.params, shadow: cancelShadow(w.params.shadow, now) } }
      : w,
  );
}

export type RolloutCommand =
  | { kind: 'pause'; reason: string }
  | { kind: 'resume'; reason: string }
  | { kind: 'abort'; reason: string }
  | { kind: 'rollback'; reason: string };

/** An operator's command. Throws CONFLICT when the rollout's status does not allow it. */
export function applyCommand(state: RolloutState, command: RolloutCommand, now: number): Step {
  const refuse = (allowed: string) =>
    new EdgeloopError(
      'CONFLICT',
      `cannot ${command.kind} rollout ${state.id}: it is ${state.status} (${allowed})`,
      { details: { status: state.status } },
    );
  const event = (kind: string, data?: Record<string, unknown>): RolloutEvent => ({
    kind,
    wave: state.currentWave,
    deviceId: null,
    reason: command.reason,
    ...(data ? { data } : {}),
  });
  switch (command.kind) {
    case 'pause':
      if (state.status !== 'running') throw refuse('only a running rollout can be paused');
      return {
        state: { ...state, status: 'paused', reason: command.reason },
        actions: [],
        events: [event('rollout.paused')],
      };
    case 'resume': {
      if (state.status !== 'paused') throw refuse('only a paused rollout can be resumed');
      // Resuming accepts what tripped the pause: the failures so far stop counting, the soak and
      // gates start over, and timed-out devices get another timeout (they keep their desired state).
      const counts = waveCounts(state.devices, state.currentWave);
      let retried = 0;
      const devices = state.devices.map((d) => {
        if (d.wave !== state.currentWave || d.state !== 'timed_out') return d;
        retried++;
        return { ...d, state: 'sent' as const, sentAt: now, reason: 'timeout restarted on resume' };
      });
      // A shadow phase that paused (failed agreement, stalled) is measured afresh from now.
      const restartShadow = (w: RolloutWave): RolloutWave['params'] =>
        w.params.shadow?.status === 'running'
          ? { ...w.params, shadow: { ...w.params.shadow, startedAt: now, result: null } }
          : w.params;
      const waves = state.waves.map((w) =>
        w.index === state.currentWave
          ? {
              ...w,
              params: restartShadow(w),
              acceptedFailures: counts.failed,
              soakStartedAt: null,
              status: w.status === 'soaking' ? ('running' as const) : w.status,
            }
          : w,
      );
      return {
        state: { ...state, status: 'running', reason: command.reason, devices, waves },
        actions: [],
        events: [event('rollout.resumed', { acceptedFailures: counts.failed, timeoutsRestarted: retried })],
      };
    }
    case 'abort':
      if (!ACTIVE_STATUSES.includes(state.status))
        throw refuse('only a running or paused rollout can be aborted');
      return {
        state: {
          ...state,
          status: 'aborted',
          reason: command.reason,
          finishedAt: now,
          waves: cancelShadows(state.waves, now),
        },
        actions: [],
        events: [event('rollout.aborted')],
      };
    case 'rollback':
      if (state.kind === 'rollback')
        throw refuse('a rollback cannot itself be rolled back; create a rollout');
      if (!['running', 'paused', 'completed'].includes(state.status))
        throw refuse('only a running, paused or completed rollout can be rolled back');
      return {
        state: {
          ...state,
          status: 'rolled_back',
          reason: command.reason,
          finishedAt: now,
          waves: cancelShadows(state.waves, now),
        },
        actions: [{ kind: 'rollback', reason: command.reason }],
        events: [event('rollout.rolling_back')],
      };
  }
}
