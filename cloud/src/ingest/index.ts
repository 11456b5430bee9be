// Telemetry ingestion: MQTT bridge → bounded buffer → batched, deduplicated writes; rollups and
// retention; the write paths the benchmark compares.

export { type IngestMetrics, ingestMetrics } from './ingest-metrics.ts';
export {
  startTelemetryIngestion,
  type TelemetryIngestion,
  type TelemetryIngestionOptions,
} from './ingestion.ts';
export {
  histogramFromSummary,
  histogramQuantile,
  LATENCY_BUCKETS_MS,
  mergeHistograms,
} from './latency-histogram.ts';
export {
  DEFAULT_TELEMETRY_RETENTION,
  RollupJob,
  type RollupJobOptions,
  type RollupRun,
  type TelemetryRetention,
} from './rollup-job.ts';
export {
  DEFAULT_TELEMETRY_RATE_LIMIT,
  TelemetryIngestor,
  type TelemetryIngestorOptions,
  type TelemetryRateLimit,
  type TelemetrySource,
} from './telemetry-ingestor.ts';
export { type TelemetryWindowRow, windowRow } from './window-row.ts';
export { insertWindows } from './window-writer.ts';
export {
  insertWindowsCopy,
  insertWindowsUnnest,
  insertWindowsValues,
  type WritePath,
  writeWithPath,
} from './write-paths.ts';
