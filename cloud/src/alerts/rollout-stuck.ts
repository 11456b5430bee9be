// Stuck rollouts. The scheduler times a silent device out after its wave's `deviceTimeoutSeconds`,
// so a running wave in which nothing changed for longer than that (plus the soak while soaking,
// plus a margin) means the scheduler is not moving it. A paused rollout waits for an operator: it
// alerts, more gently, once it has waited long.
import { and, eq, inArray, max } from 'drizzle-orm';
import { z } from 'zod';
import type { Db } from '../db/index.ts';
import { rolloutDevices, rollouts, rolloutWaves } from '../db/schema.ts';
import { duration, type FiringAlert } from './alert.ts';
import type { AlertThresholds } from './thresholds.ts';

/** The part of a wave's stored WaveParams this check reads; the policy's default when unreadable. */
const waveTiming = z.object({
  deviceTimeoutSeconds: z.number().nonnegative().catch(1800),
  minSoakSeconds: z.number().nonnegative().catch(0),
});

export async function rolloutStuckAlerts(
  db: Db,
  thresholds: AlertThresholds['rolloutStuck'],
  now: Date,
): Promise<FiringAlert[]> {
  const unfinished = await db
    .select({
      id: rollouts.id,
      model: rollouts.modelName,
      version: rollouts.version,
      status: rollouts.status,
      reason: rollouts.reason,
      updatedAt: rollouts.updatedAt,
      wave: rollouts.currentWave,
      waveStatus: rolloutWaves.status,
      params: rolloutWaves.params,
      startedAt: rolloutWaves.startedAt,
      soakStartedAt: rolloutWaves.soakStartedAt,
    })
    .from(rollouts)
    .leftJoin(
      rolloutWaves,
      and(eq(rolloutWaves.rolloutId, rollouts.id), eq(rolloutWaves.index, rollouts.currentWave)),
    )
    .where(inArray(rollouts.status, ['running', 'paused']));
  if (unfinished.length === 0) return [];
  const changes = await db
    .select({ id: rolloutDevices.rolloutId, wave: rolloutDevices.wave, at: max(rolloutDevices.updatedAt) })
    .from(rolloutDevices)
    .where(
      inArray(
        rolloutDevices.rolloutId,
        unfinished.map((r) => r.id),
      ),
    )
    .groupBy(rolloutDevices.rolloutId, rolloutDevices.wave);
  const lastDeviceChange = new Map(changes.map((c) => [`${c.id}/${c.wave}`, c.at]));

  const firing: FiringAlert[] = [];
  for (const r of unfinished) {
    const base = {
      key: `rollout_stuck:${r.id}`,
      kind: 'rollout_stuck' as const,
      subject: `rollout:${r.id}`,
    };
    if (r.status === 'paused') {
      const idle = (now.getTime() - r.updatedAt.getTime()) / 1000;
      if (idle <= thresholds.pausedForSeconds) continue;
      firing.push({
        ...base,
        severity: 'warning',
        message: `rollout ${r.id} (${r.model} v${r.version}) paused for ${duration(idle)}: ${r.reason || 'no reason given'}`,
        data: { rolloutId: r.id, status: r.status, idleSeconds: Math.round(idle), reason: r.reason },
      });
      continue;
    }
    const timing = waveTiming.parse(r.params ?? {});
    const soaking = r.waveStatus === 'soaking';
    const last = Math.max(
      r.updatedAt.getTime(),
      r.startedAt?.getTime() ?? 0,
      r.soakStartedAt?.getTime() ?? 0,
      lastDeviceChange.get(`${r.id}/${r.wave}`)?.getTime() ?? 0,
    );
    const idle = (now.getTime() - last) / 1000;
    const limit =
      timing.deviceTimeoutSeconds + (soaking ? timing.minSoakSeconds : 0) + thresholds.marginSeconds;
    if (idle <= limit) continue;
    firing.push({
      ...base,
      severity: 'critical',
      message: `rollout ${r.id} (${r.model} v${r.version}) wave ${r.wave + 1} ${r.waveStatus ?? 'not started'}: no device changed state for ${duration(idle)} (limit ${duration(limit)})`,
      data: {
        rolloutId: r.id,
        status: r.status,
        wave: r.wave,
        waveStatus: r.waveStatus,
        idleSeconds: Math.round(idle),
        limitSeconds: limit,
      },
    });
  }
  return firing;
}
