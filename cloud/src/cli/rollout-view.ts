// The rollout progress view for the terminal: one block per rollout with a row per wave (pending,
// in progress, active, failed, timed out), redrawn in place by `rollout show --watch` on a TTY.
import type { z } from 'zod';
import type { Rollout, RolloutEvent } from '../api/rollouts/schemas.ts';
import { table } from './output.ts';

type RolloutView = z.infer<typeof Rollout>;
type EventView = z.infer<typeof RolloutEvent>;

/** Clears the screen and homes the cursor: the watch view redraws the whole block. */
export const CLEAR_SCREEN = '\x1b[H\x1b[2J';

function soak(wave: RolloutView['waves'][number], now: Date): string {
  if (wave.status !== 'soaking' || wave.soakStartedAt === null) return '';
  const elapsed = Math.floor((now.getTime() - Date.parse(wave.soakStartedAt)) / 1000);
  return `${Math.min(elapsed, wave.params.minSoakSeconds)}/${wave.params.minSoakSeconds}s`;
}

function bar(active: number, total: number, width = 20): string {
  const filled = total === 0 ? 0 : Math.round((active / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const ms = (x: number | null) => (x === null ? '-' : `${x.toFixed(1)} ms`);

/** One line on the shadow phase: status, agreement against its bar, latency beside the current model's. */
export function renderShadow(shadow: NonNullable<RolloutView['shadow']>): string {
  const head = `shadow: ${shadow.status.toUpperCase()} before wave ${shadow.wave + 1} (rate ${shadow.rate}, ${shadow.devices} device(s) shadowing)`;
  const r = shadow.result;
  if (r === null) return `${head}, no results yet`;
  const agreement = r.agreement === null ? '-' : pct(r.agreement);
  return (
    `${head}
    agreement ${agreement} (min ${pct(shadow.minAgreement)}) over ${r.frames}/${shadow.minFrames} frames` +
    `${r.errors > 0 ? `, ${r.errors} shadow errors` : ''}; p95 ${ms(r.p95LatencyMs)} shadow vs ${ms(r.activeP95LatencyMs)} current${shadow.live ? ' (live)' : ''}`
  );
}

export function renderRollout(
  view: RolloutView,
  events: readonly EventView[] = [],
  now = new Date(),
): string {
  const target =
    view.target.kind === 'group'
      ? `group ${view.target.group}`
      : view.target.kind === 'tags'
        ? `tags ${view.target.tags.join('+')}`
        : view.target.kind === 'class'
          ? `class ${view.target.deviceClass}`
          : `${view.target.deviceIds.length} device(s)`;
  const lines = [
    `${view.kind === 'rollback' ? 'Rollback' : 'Rollout'} ${view.id}  ${view.model} v${view.version}  ${view.status.toUpperCase()}  (${target})`,
    `  ${bar(view.totals.active, view.totals.total)} ${view.totals.active}/${view.totals.total} active` +
      (view.waves.length > 0
        ? `, wave ${Math.min(view.currentWave + 1, view.waves.length)} of ${view.waves.length}`
        : ''),
    `  reason: ${view.reason || '-'}`,
  ];
  if (view.rollbackOf) lines.push(`  rolls back: ${view.rollbackOf}`);
  if (view.rolledBackBy) lines.push(`  rolled back by: ${view.rolledBackBy}`);
  if (view.shadow) lines.push(`  ${renderShadow(view.shadow)}`);
  if (view.policy.promoteAlias)
    lines.push(`  on completion: alias ${view.policy.promoteAlias} → v${view.version}`);
  const rows = view.waves.map((w) => [
    w.index,
    w.status,
    w.counts.total,
    w.counts.pending,
    w.counts.inProgress,
    w.counts.active,
    w.counts.failed,
    w.counts.timedOut,
    w.counts.flagged || null,
    soak(w, now),
  ]);
  const waves = table(
    [
      'WAVE',
      'STATUS',
      'DEVICES',
      'PENDING',
      'DOWNLOADING',
      'ACTIVE',
      'FAILED',
      'TIMED OUT',
      'FLAGGED',
      'SOAK',
    ],
    rows,
  );
  lines.push('', ...waves.trimEnd().split('\n'));
  if (view.excluded.length > 0) {
    lines.push('', `excluded (${view.excluded.length}):`);
    for (const e of view.excluded.slice(0, 10)) lines.push(`  ${e.deviceId}: ${e.reason}`);
    if (view.excluded.length > 10) lines.push(`  ... ${view.excluded.length - 10} more`);
  }
  if (events.length > 0) {
    lines.push('', 'recent events:');
    for (const e of events.slice(-8)) {
      const where = [e.wave === null ? '' : `wave ${e.wave}`, e.deviceId ?? ''].filter(Boolean).join(' ');
      lines.push(`  ${e.at.slice(11, 19)}  ${e.kind.padEnd(22)} ${where ? `${where}: ` : ''}${e.reason}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
