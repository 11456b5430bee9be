// Mergeable per-window summaries of what devices see and predict: the raw material of drift
// detection. Pure and browser-safe; the agent, the web SDK and the cloud all sketch the same way.
export { BinnedHistogram, binIndex } from './binned-histogram.ts';
export { SketchError } from './errors.ts';
export {
  type FeatureDefinition,
  FeatureExtractor,
  type FeatureExtractorOptions,
  type FeatureKind,
  type FeatureSample,
  featureCatalogue,
  type ModelObservation,
  outputStatistics,
} from './features.ts';
export { EmbeddingProjection, type ProjectionSpec, projectionSpecSchema } from './projection.ts';
export { QuantileSketch, type QuantileSketchOptions, ZERO_THRESHOLD } from './quantile-sketch.ts';
export { seededUniform } from './random.ts';
export {
  featureNameSchema,
  type SketchSpec,
  sketchSpecFingerprint,
  sketchSpecSchema,
} from './sketch-spec.ts';
export {
  WindowSketch,
  type WindowSketchOptions,
  type WindowSketchWire,
  windowSketchWireSchema,
} from './window-sketch.ts';
