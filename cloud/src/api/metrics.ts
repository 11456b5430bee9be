// Prometheus series the API owns. Every rejected request is counted by its error code, so an
// attack (bad tokens, oversized bodies) shows up on a dashboard, not only in the logs.
import { Counter, Histogram, type Registry } from 'prom-client';

export interface ApiMetrics {
  rejections: Counter<'code'>;
  requestSeconds: Histogram<'method' | 'route' | 'status'>;
}

// prom-client refuses to register a name twice; several apps (tests, bench) may share a registry.
const byRegistry = new WeakMap<Registry, ApiMetrics>();

export function apiMetrics(registry: Registry): ApiMetrics {
  const existing = byRegistry.get(registry);
  if (existing) return existing;
  const metrics: ApiMetrics = {
    rejections: new Counter({
      name: 'edgeloop_api_rejections_total',
      help: 'API requests rejected, by error code',
      labelNames: ['code'],
      registers: [registry],
    }),
    requestSeconds: new Histogram({
      name: 'edgeloop_api_request_duration_seconds',
      help: 'API request duration, by route template',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry],
    }),
  };
  byRegistry.set(registry, metrics);
  return metrics;
}
