// The Grafana dashboard and the Prometheus rules in deploy/ must keep naming metrics the cloud
// actually exports: a renamed metric would otherwise leave an empty panel or a silent alert.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { alertMetrics } from '../alerts/index.ts';
import { apiMetrics } from '../api/metrics.ts';
import type { Database } from '../db/index.ts';
import { testDatabases } from '../db/testing.ts';
import { ingestMetrics } from '../ingest/ingest-metrics.ts';
import { MqttBridge } from '../mqtt/bridge.ts';
import type { CloudMqttConnection } from '../mqtt/connection.ts';
import { parseExposition } from './exposition.ts';
import { FleetMetrics } from './fleet-metrics.ts';

const deploy = (path: string) => fileURLToPath(new URL(`../../../deploy/${path}`, import.meta.url));
const METRIC = /\bedgeloop_[a-z0-9_]+/g;

/** Every series name a scrape of the cloud can contain (histograms with their suffixes). */
async function exportedSeries(database: Database): Promise<Set<string>> {
  const registry = new Registry();
  apiMetrics(registry);
  ingestMetrics(registry);
  new FleetMetrics({ db: database.db, registry });
  alertMetrics({ db: database.db, registry });
  // The bridge registers its counters at construction; it is not started.
  new MqttBridge({
    connection: { supportsSharedSubscriptions: false } as CloudMqttConnection,
    db: database.db,
    registry,
  });
  const names = new Set<string>();
  for (const family of parseExposition(await registry.metrics())) {
    names.add(family.name);
    if (family.type === 'histogram')
      for (const s of ['_bucket', '_sum', '_count']) names.add(family.name + s);
  }
  return names;
}

describe('deploy/ files reference exported metrics', () => {
  let database: Database;
  let exported: Set<string>;
  beforeAll(async () => {
    database = await (testDatabases()[0] as { open(): Promise<Database> }).open();
    exported = await exportedSeries(database);
  }, 60_000);
  afterAll(async () => {
    await database?.close();
  });

  it('the Grafana dashboard is importable JSON whose queries use exported metrics', async () => {
    const dashboard = JSON.parse(await readFile(deploy('grafana/edgeloop-fleet.json'), 'utf8')) as {
      uid: string;
      title: string;
      __inputs: Array<{ name: string; pluginId: string }>;
      panels: Array<{
        id: number;
        type: string;
        title: string;
        datasource?: { uid: string };
        targets?: Array<{ expr: string }>;
      }>;
    };
    expect(dashboard.uid).toBe('edgeloop-fleet');
    expect(dashboard.__inputs).toEqual([
      expect.objectContaining({ name: 'DS_PROMETHEUS', pluginId: 'prometheus' }),
    ]);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const queries = dashboard.panels.filter((p) => p.type !== 'row');
    expect(queries.length).toBeGreaterThanOrEqual(15);
    const referenced = new Set<string>();
    for (const panel of queries) {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's import-time datasource placeholder
      expect(panel.datasource?.uid, panel.title).toBe('${DS_PROMETHEUS}');
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets ?? [])
        for (const m of target.expr.match(METRIC) ?? []) referenced.add(m);
    }
    expect([...referenced].filter((m) => !exported.has(m))).toEqual([]);
    // What an on-call engineer needs is there.
    for (const m of [
      'edgeloop_fleet_devices',
      'edgeloop_fleet_active_model_devices',
      'edgeloop_fleet_inference_latency_ms',
      'edgeloop_fleet_error_ratio',
      'edgeloop_ingest_windows_total',
      'edgeloop_telemetry_lag_seconds_bucket',
      'edgeloop_mqtt_dead_letters_total',
      'edgeloop_rollouts',
      'edgeloop_drift_score',
    ]) {
      expect(referenced, m).toContain(m);
    }
  });

  it('the alert rules parse and use exported metrics', async () => {
    const rules = parseYaml(await readFile(deploy('prometheus/alerts.yml'), 'utf8')) as {
      groups: Array<{
        name: string;
        rules: Array<{
          alert: string;
          expr: string;
          for?: string;
          labels: { severity: string };
          annotations: { summary: string };
        }>;
      }>;
    };
    const all = rules.groups.flatMap((g) => g.rules);
    expect(all.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'EdgeloopDevicesOffline',
        'EdgeloopInferenceErrorRateSpike',
        'EdgeloopRolloutStuck',
        'EdgeloopDriftDetected',
        'EdgeloopCloudAlertCritical',
        'EdgeloopCloudAlertWarning',
      ]),
    );
    for (const rule of all) {
      expect(rule.alert).toMatch(/^Edgeloop[A-Za-z]+$/);
      expect(['warning', 'critical']).toContain(rule.labels.severity);
      expect(rule.annotations.summary.length).toBeGreaterThan(0);
      if (rule.for !== undefined) expect(rule.for).toMatch(/^\d+[smh]$/);
      const used = rule.expr.match(METRIC) ?? [];
      expect(used.length, rule.alert).toBeGreaterThan(0);
      expect(
        used.filter((m) => !exported.has(m)),
        rule.alert,
      ).toEqual([]);
    }
    const scrape = parseYaml(await readFile(deploy('prometheus/prometheus.yml'), 'utf8')) as {
      rule_files: string[];
      scrape_configs: Array<{ metrics_path: string; authorization: { type: string } }>;
    };
    expect(scrape.rule_files).toEqual(['alerts.yml']);
    expect(scrape.scrape_configs[0]).toMatchObject({
      metrics_path: '/metrics',
      authorization: { type: 'Bearer' },
    });
  });
});
