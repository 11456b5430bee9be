// Prometheus counters of the samples feature, on the agent's own registry (see metrics.ts). `reason` is
// why a sample was chosen (random, low-confidence); `cause` why one was not sent.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { SampleReason } from './sample-policy.ts';

export type SampleDropCause =
  /** Chosen, but the hourly budget (token bucket) was spent. */
  | 'rate_limited'
  /** Pushed out of the offline queue by newer samples. */
  | 'queue_full'
  /** Its tensor cannot fit the wire's size limits. */
  | 'too_large'
  /** Failed the sample schema (a bug, or a model with more classes than the wire allows). */
  | 'invalid'
  /** The broker did not take it (connection stopped). */
  | 'publish_failed';

export class SampleMetrics {
  readonly kept: Counter<'reason'>;
  readonly sent: Counter<'reason'>;
  readonly dropped: Counter<'reason' | 'cause'>;
  readonly queued: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.kept = new Counter({
      name: 'edgeloop_agent_samples_kept_total',
      help: 'Inputs kept as retraining samples, by why they were chosen',
      labelNames: ['reason'],
      registers,
    });
    this.sent = new Counter({
      name: 'edgeloop_agent_samples_sent_total',
      help: 'Retraining samples acknowledged by the broker, by why they were chosen',
      labelNames: ['reason'],
      registers,
    });
    this.dropped = new Counter({
      name: 'edgeloop_agent_samples_dropped_total',
      help: 'Chosen samples never sent, by why they were chosen and why they were dropped',
      labelNames: ['reason', 'cause'],
      registers,
    });
    this.queued = new Gauge({
      name: 'edgeloop_agent_samples_queued',
      help: 'Retraining samples waiting in memory to be sent',
      registers,
    });
  }

  drop(reason: SampleReason, cause: SampleDropCause, count = 1): void {
    if (count > 0) this.dropped.inc({ reason, cause }, count);
  }
}
