// Drift: the newest drift report of each model version × fleet slice. A slice whose newest report is
// in state `alert` (the detector's hysteresis already applied) has an open alert; any other state,
// or no report within `maxAgeSeconds`, resolves it.
import { driftReportSchema } from '@edgeloop/shared';
import { desc, gt } from 'drizzle-orm';
import type { Db } from '../db/index.ts';
import { driftReports } from '../db/schema.ts';
import type { FiringAlert } from './alert.ts';
import type { AlertThresholds } from './thresholds.ts';

/** Most drifted features named in a message. */
const NAMED_FEATURES = 3;

export async function driftAlerts(
  db: Db,
  thresholds: AlertThresholds['drift'],
  now: Date,
): Promise<FiringAlert[]> {
  const since = new Date(now.getTime() - thresholds.maxAgeSeconds * 1000);
  const latest = await db
    .selectDistinctOn([
      driftReports.modelName,
      driftReports.modelVersion,
      driftReports.scopeKind,
      driftReports.scope,
    ])
    .from(driftReports)
    .where(gt(driftReports.createdAt, since))
    .orderBy(
      driftReports.modelName,
      driftReports.modelVersion,
      driftReports.scopeKind,
      driftReports.scope,
      desc(driftReports.id),
    );
  const firing: FiringAlert[] = [];
  for (const r of latest) {
    if (r.state !== 'alert') continue;
    const parsed = driftReportSchema.safeParse(r.report);
    const features = parsed.success
      ? parsed.data.features
          .filter((f) => f.level !== 'ok')
          .slice(0, NAMED_FEATURES)
          .map((f) => ({ feature: f.feature, psi: f.psi, level: f.level }))
      : r.drifted.slice(0, NAMED_FEATURES).map((feature) => ({ feature, psi: null, level: 'alert' }));
    const named = features
      .map((f) => (f.psi === null ? f.feature : `${f.feature} (PSI ${f.psi.toFixed(2)})`))
      .join(', ');
    const slice = r.scopeKind === 'group' ? `group ${r.scope || '(none)'}` : `device class ${r.scope}`;
    firing.push({
      key: `drift:${r.modelName}:${r.modelVersion}:${r.scopeKind}:${r.scope}`,
      kind: 'drift',
      severity: 'warning',
      subject: `model:${r.modelName}`,
      message: `${r.modelName} v${r.modelVersion} drifted on ${slice}${named ? `: ${named}` : ''}`,
      data: {
        model: r.modelName,
        version: r.modelVersion,
        scopeKind: r.scopeKind,
        scope: r.scope,
        reportId: r.id,
        samples: r.samples,
        drifted: r.drifted,
        features,
      },
    });
  }
  return firing;
}
