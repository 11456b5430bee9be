// Prometheus series of telemetry ingestion. Registered once per registry (tests and the bench run
// several ingestors in one process). No per-device labels: outcome and reason only.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface IngestMetrics {
  windows: Counter<'outcome'>;
  writeErrors: Counter;
  batchSeconds: Histogram;
  batchRows: Histogram;
  lagSeconds: Histogram;
  buffered: Gauge;
  backpressure: Gauge;
  backpressureSeconds: Counter;
}

const byRegistry = new WeakMap<Registry, IngestMetrics>();

export function ingestMetrics(registry: Registry): IngestMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const metrics: IngestMetrics = {
    windows: new Counter({
      name: 'edgeloop_ingest_windows_total',
      help: 'Telemetry windows by outcome: stored, duplicate, rate_limited, rejected (refused by the database), lost (acknowledged, not written at stop)',
      labelNames: ['outcome'],
      registers,
    }),
    writeErrors: new Counter({
      name: 'edgeloop_ingest_write_errors_total',
      help: 'Failed batch writes (each is retried with backoff)',
      registers,
    }),
    batchSeconds: new Histogram({
      name: 'edgeloop_ingest_batch_duration_seconds',
      help: 'Time to write one batch of windows',
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    batchRows: new Histogram({
      name: 'edgeloop_ingest_batch_rows',
      help: 'Windows per written batch',
      buckets: [1, 10, 50, 100, 250, 500, 1000],
      registers,
    }),
    lagSeconds: new Histogram({
      name: 'edgeloop_telemetry_lag_seconds',
      help: 'Time from a window closing on the device to the cloud receiving it',
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600],
      registers,
    }),
    buffered: new Gauge({
      name: 'edgeloop_ingest_buffered_windows',
      help: 'Windows acknowledged and waiting to be written',
      registers,
    }),
    backpressure: new Gauge({
      name: 'edgeloop_ingest_backpressure',
      help: '1 while ingestion withholds MQTT acknowledgements because its buffer is full',
      registers,
    }),
    backpressureSeconds: new Counter({
      name: 'edgeloop_ingest_backpressure_seconds_total',
      help: 'Time spent withholding MQTT acknowledgements',
      registers,
    }),
  };
  byRegistry.set(registry, metrics);
  return metrics;
}
