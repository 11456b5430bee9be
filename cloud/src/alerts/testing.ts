// Seeds for alert tests: drift reports shaped like the DriftMonitor's (shared `DriftReport`), so the
// evaluator, the API and the dashboard read the same rows a real cloud would store.
import type { DriftReport } from '@edgeloop/shared';
import type { Db } from '../db/index.ts';
import { driftReports } from '../db/schema.ts';

export interface DriftSeed {
  model: string;
  version: number;
  scope: string;
  state: DriftReport['state'];
  /** PSI per feature, most drifted first or not: sorted here. */
  psi: Record<string, number>;
  at: Date;
}

export function driftReport(state: DriftReport['state'], psi: Record<string, number>): DriftReport {
  const features = Object.entries(psi)
    .map(([feature, value]) => ({
      feature,
      kind: 'input' as const,
      source: 'bins' as const,
      samples: 500,
      psi: value,
      ks: null,
      ksCritical: null,
      js: null,
      pValue: null,
      severity: value / 0.2,
      level: value >= 0.2 ? ('alert' as const) : value >= 0.1 ? ('warn' as const) : ('ok' as const),
    }))
    .sort((a, b) => b.severity - a.severity);
  return {
    v: 1,
    profile: 'ref-0001',
    state,
    changed: false,
    evaluation: state,
    singleWindowOnly: false,
    samples: 500,
    minSamples: 200,
    windows: 5,
    tests: features.length,
    drifted: features.filter((f) => f.level !== 'ok').map((f) => f.feature),
    features,
    hysteresis: { alertsInLast: 0, outOf: 3, raiseAfter: 2, calmStreak: 0, clearAfter: 3 },
  };
}

export async function insertDriftReports(db: Db, seeds: readonly DriftSeed[]): Promise<void> {
  if (seeds.length === 0) return;
  await db.insert(driftReports).values(
    seeds.map((s) => {
      const report = driftReport(s.state, s.psi);
      return {
        modelName: s.model,
        modelVersion: s.version,
        scopeKind: 'device_class' as const,
        scope: s.scope,
        profile: report.profile,
        state: report.state,
        changed: report.changed,
        drifted: report.drifted,
        samples: report.samples,
        windows: report.windows,
        windowStart: new Date(s.at.getTime() - 300_000),
        windowEnd: s.at,
        report,
        createdAt: s.at,
      };
    }),
  );
}
