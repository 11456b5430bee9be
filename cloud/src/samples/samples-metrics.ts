// Prometheus series of sample ingestion, registered once per registry. Bounded labels only.
import { Counter, type Registry } from 'prom-client';

export type SampleOutcome = 'stored' | 'duplicate' | 'rejected' | 'rate_limited' | 'write_rejected' | 'lost';

export interface SamplesMetrics {
  received: Counter<'outcome'>;
  writeErrors: Counter;
}

const byRegistry = new WeakMap<Registry, SamplesMetrics>();

export function samplesMetrics(registry: Registry): SamplesMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const metrics: SamplesMetrics = {
    received: new Counter({
      name: 'edgeloop_samples_received_total',
      help:
        'Retraining samples from devices by outcome: stored, duplicate (redelivery), rejected (refused batch: ' +
        'malformed, mismatch, bad tensor, unknown device; a batch that cannot be parsed counts as one), ' +
        'rate_limited, write_rejected (refused by the database), lost (acknowledged at stop, not written)',
      labelNames: ['outcome'],
      registers,
    }),
    writeErrors: new Counter({
      name: 'edgeloop_samples_write_errors_total',
      help: 'Failed sample batch writes (each is retried with backoff)',
      registers,
    }),
  };
  byRegistry.set(registry, metrics);
  return metrics;
}
