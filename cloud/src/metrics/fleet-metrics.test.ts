import { sql } from 'drizzle-orm';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiFixture } from '../api/testing.ts';
import type { Database } from '../db/index.ts';
import { deviceGroups, devices, rollouts } from '../db/schema.ts';
import { testDatabases } from '../db/testing.ts';
import { ingestMetrics } from '../ingest/ingest-metrics.ts';
import { telemetryWindow } from '../ingest/testing.ts';
import { windowRow } from '../ingest/window-row.ts';
import { insertWindows } from '../ingest/window-writer.ts';
import { type MetricFamily, parseExposition } from './exposition.ts';
import { FleetMetrics } from './fleet-metrics.ts';
import { metricsRoute } from './metrics-route.ts';

const active = (version: string) => ({
  v: 1,
  generation: 1,
  rolloutId: null,
  active: { name: 'digits', version, variant: 'int8', sha256: 'ab'.repeat(32) },
  previous: null,
  phase: { state: 'active', sha256: 'ab'.repeat(32) },
  at: 1,
});

const values = (families: MetricFamily[], name: string): Array<Record<string, string> & { value: number }> =>
  families.find((f) => f.name === name)?.samples.map((s) => Object.assign({ value: s.value }, s.labels)) ??
  [];

describe.each(testDatabases())('fleet metrics on $name', ({ open }) => {
  let database: Database;

  beforeAll(async () => {
    database = await open();
    const db = database.db;
    await db
      .insert(deviceGroups)
      .values([{ name: 'lobby' }, ...Array.from({ length: 5 }, (_, i) => ({ name: `g${i}` }))]);
    await db.insert(devices).values([
      { id: 'cam-1', deviceClass: 'pi4', groupName: 'lobby', connection: 'online', reported: active('3') },
      { id: 'cam-2', deviceClass: 'pi4', groupName: 'lobby', connection: 'offline', reported: active('2') },
      { id: 'cam-3', deviceClass: 'jetson', groupName: 'lobby', connection: 'online', reported: active('3') },
      // Small groups, to be folded into `other` past the label bound.
      ...Array.from({ length: 5 }, (_, i) => ({ id: `cam-g${i}`, deviceClass: 'pi4', groupName: `g${i}` })),
    ]);
    const now = Date.now();
    const rows = [
      windowRow(
        'cam-1',
        telemetryWindow('cam-1', 1, { windowStart: now - 60_000, windowEnd: now, errors: 10 }),
        new Date(),
      ),
      windowRow(
        'cam-3',
        telemetryWindow('cam-3', 1, { windowStart: now - 60_000, windowEnd: now, errors: 0 }),
        new Date(),
      ),
      // Too old for the recent window.
      windowRow(
        'cam-1',
        telemetryWindow('cam-1', 2, { windowStart: 0, windowEnd: 60_000, errors: 100 }),
        new Date(),
      ),
    ];
    await insertWindows(db, rows);
    await db.insert(rollouts).values({
      id: 'r1',
      kind: 'rollout',
      modelName: 'digits',
      version: 3,
      target: {},
      policy: {},
      seed: 1,
      status: 'running',
    });
    await db.execute(sql`update rollouts set updated_at = now() - interval '2 hours'`);
  }, 60_000);
  afterAll(async () => {
    await database?.close();
  });

  it('exposes devices, versions, latency, errors and rollouts in valid exposition format', async () => {
    const registry = new Registry();
    new FleetMetrics({ db: database.db, registry, maxGroups: 3 }).setDriftScore(
      'digits',
      '3',
      'brightness',
      0.12,
    );
    ingestMetrics(registry);
    const families = parseExposition(await registry.metrics());

    expect(values(families, 'edgeloop_fleet_devices')).toEqual(
      expect.arrayContaining([
        { connection: 'online', device_class: 'pi4', group: 'lobby', value: 1 },
        { connection: 'offline', device_class: 'pi4', group: 'lobby', value: 1 },
        { connection: 'online', device_class: 'jetson', group: 'lobby', value: 1 },
        // Three label values at most: the largest group, the next (ties by name), then `other`.
        { connection: 'unknown', device_class: 'pi4', group: 'g0', value: 1 },
        { connection: 'unknown', device_class: 'pi4', group: 'other', value: 4 },
      ]),
    );
    expect(values(families, 'edgeloop_fleet_devices').reduce((sum, s) => sum + s.value, 0)).toBe(8);
    expect(values(families, 'edgeloop_fleet_active_model_devices')).toEqual(
      expect.arrayContaining([
        { model: 'digits', version: '3', variant: 'int8', value: 2 },
        { model: 'digits', version: '2', variant: 'int8', value: 1 },
        { model: 'none', version: 'none', variant: 'none', value: 5 },
      ]),
    );
    expect(values(families, 'edgeloop_fleet_error_ratio')).toEqual(
      expect.arrayContaining([
        { model: 'digits', version: '3', device_class: 'pi4', value: 0.1 },
        { model: 'digits', version: '3', device_class: 'jetson', value: 0 },
      ]),
    );
    const p50 = values(families, 'edgeloop_fleet_inference_latency_ms').find(
      (s) => s.device_class === 'pi4' && s.quantile === '0.5',
    );
    expect(p50?.value).toBeGreaterThan(1);
    expect(p50?.value).toBeLessThanOrEqual(2.5); // the window's p50 is 1.5 ms
    expect(values(families, 'edgeloop_rollouts')).toEqual([{ status: 'running', value: 1 }]);
    expect(values(families, 'edgeloop_rollout_max_idle_seconds')[0]?.value).toBeGreaterThan(7000);
    expect(values(families, 'edgeloop_drift_score')).toEqual([
      { model: 'digits', version: '3', feature: 'brightness', value: 0.12 },
    ]);
    // No per-device labels anywhere.
    for (const family of families) {
      for (const sample of family.samples) {
        expect(Object.keys(sample.labels).filter((l) => /device(_id)?$|^id$/.test(l))).toEqual([]);
      }
      expect(family.help.length).toBeGreaterThan(0);
    }
    expect(families.find((f) => f.name === 'edgeloop_telemetry_lag_seconds')?.type).toBe('histogram');
  });

  it('reads the database once per cache period, whatever the number of gauges and scrapes', async () => {
    let queries = 0;
    const counting = new Proxy(database.db, {
      get(target, key, receiver) {
        const value: unknown = Reflect.get(target, key, receiver);
        if (key !== 'execute' || typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          queries++;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    let now = 0;
    const registry = new Registry();
    new FleetMetrics({ db: counting, registry, cacheMs: 5_000, now: () => now });
    await registry.metrics();
    const perSnapshot = queries;
    await registry.metrics();
    expect(queries).toBe(perSnapshot);
    now += 5_000;
    await registry.metrics();
    expect(queries).toBe(2 * perSnapshot);
  });

  it('keeps /metrics answering when the database is gone, and counts the failure', async () => {
    const registry = new Registry();
    const broken = new Proxy(database.db, {
      get(target, key, receiver) {
        if (key === 'execute') return () => Promise.reject(new Error('connection terminated'));
        return Reflect.get(target, key, receiver);
      },
    });
    new FleetMetrics({ db: broken, registry });
    const families = parseExposition(await registry.metrics());
    expect(values(families, 'edgeloop_fleet_devices')).toEqual([]);
    expect(values(families, 'edgeloop_metrics_collect_errors_total')[0]?.value).toBe(1);
  });

  it('serves GET /metrics to a viewer token and refuses anonymous scrapes', async () => {
    const fixture = await createApiFixture(database.db);
    const registry = fixture.deps.metrics as Registry;
    new FleetMetrics({ db: database.db, registry });
    fixture.app.route('/', metricsRoute(registry, fixture.tokenStore));
    const ok = await fixture.request('GET', '/metrics', { token: fixture.tokens.viewer });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toContain('text/plain');
    const names = parseExposition(ok.text).map((f) => f.name);
    expect(names).toEqual(
      expect.arrayContaining(['edgeloop_fleet_devices', 'edgeloop_api_request_duration_seconds']),
    );
    expect((await fixture.request('GET', '/metrics', { token: null })).status).toBe(401);
  });
});

describe('parseExposition', () => {
  it('refuses what would break a scrape', () => {
    const ok = '# HELP a_total A.\n# TYPE a_total counter\na_total{x="1"} 3\n';
    expect(parseExposition(ok)[0]?.samples).toEqual([{ name: 'a_total', labels: { x: '1' }, value: 3 }]);
    expect(() => parseExposition('a 1\n')).toThrow(/before any HELP/);
    expect(() => parseExposition('# HELP a A.\n# TYPE a gauge\na{x="1} 1\n')).toThrow(/malformed/);
    expect(() => parseExposition('# HELP a A.\n# TYPE a gauge\na{x="1"} one\n')).toThrow(/bad value/);
    expect(() => parseExposition('# HELP a A.\n# TYPE a gauge\na{x="1"} 1\na{y="1"} 1\n')).toThrow(/mixes/);
    expect(() => parseExposition('# HELP h H.\n# TYPE h histogram\nh_bucket 1\n')).toThrow(/without le/);
    expect(() => parseExposition('# TYPE a gauge\na 1\n')).toThrow(/no HELP/);
  });
});
