// Drift detection against a model version's reference profile: the statistics, the per-window
// evaluation and the detector with hysteresis. Pure and browser-safe.
export { referenceFromWindows } from './baseline.ts';
export {
  DEFAULT_HYSTERESIS,
  DriftDetector,
  type DriftDetectorOptions,
  type DriftReport,
  type DriftState,
  driftReportSchema,
  driftStateSchema,
  type HysteresisOptions,
} from './detector.ts';
export {
  CLASS_MIX_FEATURE,
  DEFAULT_DRIFT_THRESHOLDS,
  type DriftEvaluation,
  type DriftLevel,
  type DriftThresholds,
  driftLevelSchema,
  evaluateDrift,
  type FeatureDrift,
  featureDriftSchema,
  type PreparedReference,
  prepareReference,
} from './evaluation.ts';
export {
  buildReferenceProfile,
  DEFAULT_PROJECTION,
  MIN_REFERENCE_SAMPLES,
  type ReferenceFeature,
  type ReferenceProfile,
  type ReferenceProfileOptions,
  referenceFeatureSchema,
  referenceProfileFromSamples,
  referenceProfileSchema,
} from './reference-profile.ts';
export {
  binnedKsDistance,
  chiSquareSurvival,
  jensenShannonDivergence,
  ksCriticalValue,
  PSI_REFERENCE_FLOOR,
  PSI_WINDOW_PSEUDOCOUNT,
  populationStabilityIndex,
  sketchKsDistance,
} from './statistics.ts';
