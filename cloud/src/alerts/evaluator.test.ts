import { and, eq, isNull, sql } from 'drizzle-orm';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ADVISORY_LOCK_CLASS, AdvisoryLockKey, type Database, type Db } from '../db/index.ts';
import {
  alerts,
  devices,
  events,
  rolloutDevices,
  rollouts,
  rolloutWaves,
  telemetryWindows,
} from '../db/schema.ts';
import { testDatabases } from '../db/testing.ts';
import { telemetryWindow } from '../ingest/testing.ts';
import { windowRow } from '../ingest/window-row.ts';
import { insertWindows } from '../ingest/window-writer.ts';
import { parseExposition } from '../metrics/exposition.ts';
import { alertMetrics } from './alert-metrics.ts';
import { AlertEvaluator } from './evaluator.ts';
import { insertDriftReports } from './testing.ts';

const NOW = new Date('2031-03-04T12:00:00Z');
const min = (n: number) => n * 60_000;
const ago = (ms: number) => new Date(NOW.getTime() - ms);

const openAlerts = (db: Db) => db.select().from(alerts).where(isNull(alerts.resolvedAt)).orderBy(alerts.key);
const alertEvents = (db: Db) =>
  db
    .select({ kind: events.kind, subject: events.subject, data: events.data })
    .from(events)
    .where(sql`${events.kind} like 'alert.%'`)
    .orderBy(events.id);

describe.each(testDatabases())('alert evaluator on $name', ({ name, open }) => {
  let database: Database;
  let db: Db;
  let clock: Date;
  let evaluator: AlertEvaluator;

  beforeAll(async () => {
    database = await open();
    db = database.db;
  }, 60_000);
  afterAll(async () => {
    await database?.close();
  });
  beforeEach(async () => {
    await db.execute(
      sql`truncate alerts, events, devices, telemetry_windows, drift_reports, rollouts cascade`,
    );
    clock = NOW;
    evaluator = new AlertEvaluator({ db, intervalMs: 0, now: () => clock });
  });

  it('opens a devices_offline alert per device class and group, once, and resolves it', async () => {
    const device = (id: string, connection: 'online' | 'offline', seen: number, group = 'lobby') => ({
      id,
      deviceClass: 'pi4',
      groupName: null as string | null,
      connection,
      lastSeenAt: ago(seen),
      updatedAt: ago(seen),
      _group: group,
    });
    await db.execute(sql`insert into device_groups (name) values ('lobby') on conflict do nothing`);
    const rows = [
      device('cam-1', 'online', 0),
      device('cam-2', 'online', 0),
      device('cam-3', 'online', 0),
      device('cam-4', 'offline', min(10)),
      device('cam-5', 'offline', min(10)),
      // Offline for one minute only: a reboot, not counted.
      device('cam-6', 'offline', min(1)),
    ].map(({ _group, ...d }) => ({ ...d, groupName: _group }));
    await db.insert(devices).values(rows);

    const first = await evaluator.tick();
    expect(first).toMatchObject({ ran: true, firing: 2 });
    let current = await openAlerts(db);
    expect(current.map((a) => [a.key, a.severity])).toEqual([
      ['devices_offline:device_class:pi4', 'warning'],
      ['devices_offline:group:lobby', 'warning'],
    ]);
    expect(current[0]?.message).toBe('2 of 6 devices of device class pi4 (33.3%) offline for over 5 min');
    expect(current[0]?.data).toMatchObject({ offline: 2, total: 6 });

    // Repeated passes keep one open alert per key and move last_seen_at.
    clock = new Date(NOW.getTime() + 30_000);
    const again = await evaluator.tick();
    expect(again).toMatchObject({ ran: true, opened: [], resolved: [], open: 2 });
    await evaluator.tick();
    expect(await db.select().from(alerts)).toHaveLength(2);
    current = await openAlerts(db);
    expect(current[0]?.lastSeenAt.getTime()).toBe(clock.getTime());
    expect(current[0]?.openedAt.getTime()).toBe(NOW.getTime());

    // One more device down past the critical share.
    await db
      .update(devices)
      .set({ connection: 'offline', lastSeenAt: ago(min(10)) })
      .where(eq(devices.id, 'cam-3'));
    await db
      .update(devices)
      .set({ lastSeenAt: ago(min(10)) })
      .where(eq(devices.id, 'cam-6'));
    await evaluator.tick();
    expect((await openAlerts(db)).map((a) => a.severity)).toEqual(['critical', 'critical']);

    await db.update(devices).set({ connection: 'online', lastSeenAt: clock });
    const cleared = await evaluator.tick();
    expect(cleared).toMatchObject({ ran: true, firing: 0, opened: [], open: 0 });
    expect(await openAlerts(db)).toEqual([]);
    const all = await db.select().from(alerts);
    expect(all.map((a) => a.resolvedAt?.getTime())).toEqual([clock.getTime(), clock.getTime()]);
    expect((await alertEvents(db)).map((e) => `${e.kind} ${e.subject}`)).toEqual([
      'alert.opened device_class:pi4',
      'alert.opened group:lobby',
      'alert.resolved device_class:pi4',
      'alert.resolved group:lobby',
    ]);

    // The same condition returning later is a new alert.
    await db.update(devices).set({ connection: 'offline', lastSeenAt: ago(min(10)) });
    clock = NOW;
    await evaluator.tick();
    expect(await db.select().from(alerts)).toHaveLength(4);
    expect(await openAlerts(db)).toHaveLength(2);
  });

  it('opens an error_rate alert on a spike over the previous hour, not on a steady rate', async () => {
    await db.insert(devices).values([
      { id: 'cam-1', deviceClass: 'pi4', connection: 'online' },
      { id: 'cam-2', deviceClass: 'jetson', connection: 'online' },
    ]);
    const window = (device: string, seq: number, endAgo: number, inferences: number, errors: number) =>
      windowRow(
        device,
        telemetryWindow(device, seq, {
          windowStart: NOW.getTime() - endAgo - 60_000,
          windowEnd: NOW.getTime() - endAgo,
          inferences,
          errors,
        }),
        NOW,
      );
    await insertWindows(db, [
      // pi4: 1% for the hour before, 15% in the last minutes.
      ...Array.from({ length: 10 }, (_, i) => window('cam-1', i, min(10 + i * 5), 100, 1)),
      window('cam-1', 100, min(1), 200, 30),
      // jetson: 10% all along — high, but no spike.
      ...Array.from({ length: 10 }, (_, i) => window('cam-2', i, min(10 + i * 5), 100, 10)),
      window('cam-2', 100, min(1), 200, 24),
    ]);
    await evaluator.tick();
    const [spike, ...others] = await openAlerts(db);
    expect(others).toEqual([]);
    expect(spike).toMatchObject({
      key: 'error_rate:digits:3:pi4',
      kind: 'error_rate',
      severity: 'warning',
      subject: 'model:digits',
    });
    expect(spike?.data).toMatchObject({ inferences: 200, rate: 0.15, baselineRate: 0.01 });
    expect(spike?.message).toContain('15% of 200 inferences failed in the last 5 min (before: 1%)');

    // Too few inferences in the recent window: no judgement, and the alert clears.
    await db
      .delete(telemetryWindows)
      .where(and(eq(telemetryWindows.deviceId, 'cam-1'), eq(telemetryWindows.seq, 100)));
    await insertWindows(db, [window('cam-1', 101, min(1), 50, 30)]);
    const tick = await evaluator.tick();
    expect(tick).toMatchObject({ ran: true, opened: [], open: 0 });
    expect(tick.ran && tick.resolved.map((a) => a.key)).toEqual(['error_rate:digits:3:pi4']);
  });

  it('opens rollout_stuck for a silent running wave and a long pause, and resolves on progress', async () => {
    await db.insert(devices).values([{ id: 'cam-1', deviceClass: 'pi4' }]);
    const rollout = (id: string, status: 'running' | 'paused', updatedAt: Date) => ({
      id,
      kind: 'rollout' as const,
      modelName: 'digits',
      version: 3,
      target: {},
      policy: {},
      seed: 1,
      status,
      reason: status === 'paused' ? 'failure threshold tripped' : 'created',
      updatedAt,
    });
    await db
      .insert(rollouts)
      .values([
        rollout('r-stuck', 'running', ago(min(60))),
        rollout('r-fine', 'running', ago(min(60))),
        rollout('r-paused', 'paused', ago(min(90))),
      ]);
    const params = {
      successThreshold: 95,
      failureThreshold: 10,
      minSoakSeconds: 60,
      deviceTimeoutSeconds: 600,
    };
    await db.insert(rolloutWaves).values(
      ['r-stuck', 'r-fine', 'r-paused'].map((rolloutId) => ({
        rolloutId,
        index: 0,
        status: 'running' as const,
        params,
        startedAt: ago(min(60)),
      })),
    );
    await db.insert(rolloutDevices).values([
      {
        rolloutId: 'r-stuck',
        deviceId: 'cam-1',
        wave: 0,
        state: 'sent',
        claimed: false,
        updatedAt: ago(min(60)),
      },
      // Within 600 s + 300 s margin of a device change.
      {
        rolloutId: 'r-fine',
        deviceId: 'cam-1',
        wave: 0,
        state: 'downloading',
        claimed: false,
        updatedAt: ago(min(14)),
      },
    ]);
    await evaluator.tick();
    expect((await openAlerts(db)).map((a) => [a.key, a.severity, a.subject])).toEqual([
      ['rollout_stuck:r-paused', 'warning', 'rollout:r-paused'],
      ['rollout_stuck:r-stuck', 'critical', 'rollout:r-stuck'],
    ]);
    const stuck = (await openAlerts(db))[1];
    expect(stuck?.message).toBe(
      'rollout r-stuck (digits v3) wave 1 running: no device changed state for 60 min (limit 15 min)',
    );

    await db
      .update(rolloutDevices)
      .set({ state: 'active', updatedAt: clock })
      .where(eq(rolloutDevices.rolloutId, 'r-stuck'));
    await db.update(rollouts).set({ status: 'completed' }).where(eq(rollouts.id, 'r-paused'));
    const tick = await evaluator.tick();
    expect(tick.ran && tick.resolved.map((a) => a.key).sort()).toEqual([
      'rollout_stuck:r-paused',
      'rollout_stuck:r-stuck',
    ]);
  });

  it('follows the newest drift report of each model version × scope', async () => {
    await insertDriftReports(db, [
      {
        model: 'digits',
        version: 3,
        scope: 'pi4',
        state: 'warn',
        psi: { brightness: 0.15 },
        at: ago(min(20)),
      },
      {
        model: 'digits',
        version: 3,
        scope: 'pi4',
        state: 'alert',
        psi: { brightness: 0.41, contrast: 0.22, sharpness: 0.02 },
        at: ago(min(10)),
      },
      // An older alert superseded by an ok report.
      {
        model: 'digits',
        version: 3,
        scope: 'jetson',
        state: 'alert',
        psi: { brightness: 0.3 },
        at: ago(min(20)),
      },
      {
        model: 'digits',
        version: 3,
        scope: 'jetson',
        state: 'ok',
        psi: { brightness: 0.01 },
        at: ago(min(10)),
      },
      // Too old to count.
      {
        model: 'digits',
        version: 2,
        scope: 'pi4',
        state: 'alert',
        psi: { brightness: 0.5 },
        at: ago(min(60 * 25)),
      },
    ]);
    await evaluator.tick();
    const current = await openAlerts(db);
    expect(current.map((a) => a.key)).toEqual(['drift:digits:3:device_class:pi4']);
    expect(current[0]?.message).toBe(
      'digits v3 drifted on device class pi4: brightness (PSI 0.41), contrast (PSI 0.22)',
    );
    expect(current[0]?.data).toMatchObject({ drifted: ['brightness', 'contrast'] });

    await insertDriftReports(db, [
      { model: 'digits', version: 3, scope: 'pi4', state: 'ok', psi: { brightness: 0.05 }, at: ago(min(1)) },
    ]);
    await evaluator.tick();
    expect(await openAlerts(db)).toEqual([]);
    expect((await alertEvents(db)).map((e) => e.kind)).toEqual(['alert.opened', 'alert.resolved']);
  });

  it('counts open alerts on edgeloop_alerts_open', async () => {
    await insertDriftReports(db, [
      {
        model: 'digits',
        version: 3,
        scope: 'pi4',
        state: 'alert',
        psi: { brightness: 0.4 },
        at: ago(min(1)),
      },
      {
        model: 'digits',
        version: 3,
        scope: 'jetson',
        state: 'alert',
        psi: { brightness: 0.4 },
        at: ago(min(1)),
      },
    ]);
    await evaluator.tick();
    const registry = new Registry();
    alertMetrics({ db, registry });
    const family = parseExposition(await registry.metrics()).find((f) => f.name === 'edgeloop_alerts_open');
    expect(family?.type).toBe('gauge');
    expect(family?.samples.map((s) => ({ ...s.labels, value: s.value }))).toEqual([
      { kind: 'drift', severity: 'warning', value: 2 },
    ]);
  });

  it('keeps one open alert per key when two evaluators tick at once', async () => {
    await insertDriftReports(db, [
      {
        model: 'digits',
        version: 3,
        scope: 'pi4',
        state: 'alert',
        psi: { brightness: 0.4 },
        at: ago(min(1)),
      },
    ]);
    const other = new AlertEvaluator({ db, intervalMs: 0, now: () => clock });
    await Promise.all([evaluator.tick(), other.tick(), evaluator.tick(), other.tick()]);
    expect((await db.select().from(alerts)).map((a) => a.key)).toEqual(['drift:digits:3:device_class:pi4']);
    expect((await alertEvents(db)).map((e) => e.kind)).toEqual(['alert.opened']);
  });

  it.runIf(name === 'postgres')('skips a pass while another process holds the alerts lock', async () => {
    await db.transaction(async (tx) => {
      await tx.execute(
        sql`select pg_advisory_xact_lock(${ADVISORY_LOCK_CLASS}::int, ${AdvisoryLockKey.alerts}::int)`,
      );
      expect(await evaluator.tick()).toEqual({ ran: false });
    });
    expect(await evaluator.tick()).toMatchObject({ ran: true });
  });

  it('rejects bad settings at construction, naming the field', () => {
    expect(() => new AlertEvaluator({ db, thresholds: { errorRate: { minRate: 2 } } })).toThrow(/minRate/);
    expect(() => new AlertEvaluator({ db, intervalMs: -1 })).toThrow(/intervalMs/);
  });
});
