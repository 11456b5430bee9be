// `edgeloop_alerts_open{kind,severity}`: read from the database at scrape time, so every cloud
// process reports the same numbers whichever one evaluated last.
import { Gauge, type Registry } from 'prom-client';
import type { Db } from '../db/index.ts';
import type { Logger } from '../log/index.ts';
import { openAlertCounts } from './store.ts';

export function alertMetrics(options: {
  db: Db;
  registry: Registry;
  logger?: Logger;
}): Gauge<'kind' | 'severity'> {
  const { db, logger } = options;
  return new Gauge({
    name: 'edgeloop_alerts_open',
    help: 'Open alerts of the cloud alert evaluator (cloud/src/alerts), by kind and severity',
    labelNames: ['kind', 'severity'],
    registers: [options.registry],
    async collect() {
      try {
        const counts = await openAlertCounts(db);
        this.reset();
        for (const c of counts) this.set({ kind: c.kind, severity: c.severity }, c.count);
      } catch (err) {
        // Keep the last values rather than report zero open alerts on a database error.
        logger?.error({ event: 'alerts.metrics_failed', err: String(err) }, 'open alerts unavailable');
      }
    },
  });
}
