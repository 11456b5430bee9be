import type { Registry } from 'prom-client';
import { sharedCounter } from '../mqtt/observability.ts';

/** What became of an artifact request; one label value each, and one key of `stats().requests`. */
export const REQUEST_OUTCOMES = [
  /** Every chunk asked for was queued, held back for the republish interval, or joined a publish. */
  'served',
  /** Some chunks were not queued because the outgoing queue was full. */
  'overloaded',
  'malformed',
  'rate_limited',
  'bad_chunk_size',
  'unknown_artifact',
  'not_entitled',
  'out_of_range',
] as const;
export type RequestOutcome = (typeof REQUEST_OUTCOMES)[number];

export interface ArtifactServerStats {
  requests: Record<RequestOutcome, number>;
  chunksPublished: number;
  /** Whole frames (60-byte header + payload), i.e. what the cloud handed the broker. */
  bytesPublished: number;
  /** Chunk requests answered by a publish already queued, held back, or awaiting its PUBACK. */
  chunkRequestsCoalesced: number;
  /** Chunk requests dropped because the outgoing queue was full. */
  chunksShed: number;
  publishFailures: number;
  queued: number;
  inFlight: number;
  cache: { frames: number; bytes: number; hits: number; misses: number };
}

type Counts = Pick<
  ArtifactServerStats,
  'chunksPublished' | 'bytesPublished' | 'chunkRequestsCoalesced' | 'chunksShed' | 'publishFailures'
> & { requests: Record<RequestOutcome, number> };

/** Prometheus counters plus the same numbers kept locally, so `stats()` needs no async scrape. */
export class DeliveryMetrics {
  readonly counts: Counts = {
    requests: Object.fromEntries(REQUEST_OUTCOMES.map((o) => [o, 0])) as Record<RequestOutcome, number>,
    chunksPublished: 0,
    bytesPublished: 0,
    chunkRequestsCoalesced: 0,
    chunksShed: 0,
    publishFailures: 0,
  };
  readonly #requests;
  readonly #chunks;
  readonly #bytes;
  readonly #coalesced;
  readonly #shed;
  readonly #failures;

  constructor(registry: Registry) {
    this.#requests = sharedCounter(
      registry,
      'edgeloop_artifact_requests_total',
      'Artifact chunk requests from devices, by outcome',
      ['outcome'],
    );
    this.#chunks = sharedCounter(
      registry,
      'edgeloop_artifact_chunks_published_total',
      'Artifact chunk frames published',
      [],
    );
    this.#bytes = sharedCounter(
      registry,
      'edgeloop_artifact_bytes_published_total',
      'Artifact chunk frame bytes published (header included)',
      [],
    );
    this.#coalesced = sharedCounter(
      registry,
      'edgeloop_artifact_chunk_requests_coalesced_total',
      'Requested chunks answered by a publish already queued, held back or awaiting its PUBACK',
      [],
    );
    this.#shed = sharedCounter(
      registry,
      'edgeloop_artifact_chunks_shed_total',
      'Requested chunks dropped because the outgoing queue was full',
      [],
    );
    this.#failures = sharedCounter(
      registry,
      'edgeloop_artifact_publish_failures_total',
      'Chunk publishes that failed (store read or broker)',
      [],
    );
  }

  request(outcome: RequestOutcome): void {
    this.counts.requests[outcome]++;
    this.#requests.inc({ outcome });
  }

  published(bytes: number): void {
    this.counts.chunksPublished++;
    this.counts.bytesPublished += bytes;
    this.#chunks.inc();
    this.#bytes.inc(bytes);
  }

  coalesced(chunks: number): void {
    if (chunks === 0) return;
    this.counts.chunkRequestsCoalesced += chunks;
    this.#coalesced.inc(chunks);
  }

  shed(chunks: number): void {
    if (chunks === 0) return;
    this.counts.chunksShed += chunks;
    this.#shed.inc(chunks);
  }

  publishFailed(): void {
    this.counts.publishFailures++;
    this.#failures.inc();
  }
}
