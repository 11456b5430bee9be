// A validated telemetry window (shared contract) as a `telemetry_windows` row. Pure: the only
// place that knows both shapes.
import type { TelemetryWindow } from '@edgeloop/shared';
import type { telemetryWindows } from '../db/schema.ts';
import { histogramFromSummary } from './latency-histogram.ts';

export type TelemetryWindowRow = typeof telemetryWindows.$inferInsert;

export function windowRow(deviceId: string, window: TelemetryWindow, receivedAt: Date): TelemetryWindowRow {
  const latency = window.latencyMs;
  return {
    deviceId,
    seq: window.seq,
    windowStart: new Date(window.windowStart),
    windowEnd: new Date(window.windowEnd),
    receivedAt,
    modelName: window.model?.name ?? null,
    modelVersion: window.model ? Number(window.model.version) : null, // wire: digits (<= 9), db: integer
    modelVariant: window.model?.variant ?? null,
    inferences: window.inferences,
    errors: window.errors,
    latencyCount: latency?.count ?? 0,
    latencyMinMs: latency?.min ?? null,
    latencyP50Ms: latency?.p50 ?? null,
    latencyP95Ms: latency?.p95 ?? null,
    latencyP99Ms: latency?.p99 ?? null,
    latencyMaxMs: latency?.max ?? null,
    latencyMeanMs: latency?.mean ?? null,
    latencyHist: histogramFromSummary(latency),
    classCounts: window.classCounts,
    meanConfidence: window.meanConfidence,
    droppedWindows: window.droppedWindows,
    sketches: window.sketches ?? null,
    shadow: window.shadow ?? null,
  };
}
