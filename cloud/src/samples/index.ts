// Retraining samples: devices' sampled inputs in over MQTT (`el/v1/dev/+/samples`) into
// `fleet_samples`, and the operator feedback that labels them.
export { type ImageGeometry, imageGeometry, tensorPixels, tensorPng } from './preview.ts';
export { checkSampleBatch, type FleetSampleRow, sampleRow, tensorByteLength } from './sample-row.ts';
export {
  type LabelInput,
  type Labeller,
  SAMPLE_LABELLED_EVENT,
  type SampleFilter,
  type SampleRecord,
  type SampleStatsRow,
  SampleStore,
  type SampleSummaryRecord,
  type VersionInfo,
} from './sample-store.ts';
export { insertSamples } from './sample-writer.ts';
export {
  DEFAULT_SAMPLES_RATE_LIMIT,
  SamplesConsumer,
  type SamplesConsumerOptions,
  SamplesError,
} from './samples-consumer.ts';
export { type SampleOutcome, type SamplesMetrics, samplesMetrics } from './samples-metrics.ts';
