export { EvaluationError, type EvaluationErrorCode } from './errors.ts';
export {
  type ChampionComparison,
  compareVariants,
  compareWithChampion,
  type EvaluateOptions,
  type EvaluationSet,
  evaluateModel,
  type ModelEvaluation,
  type ModelVariant,
  measureVariantsLatency,
  type VariantComparison,
} from './evaluate.ts';
export {
  DEFAULT_LATENCY,
  type LatencyInput,
  type LatencySettings,
  type LatencyStats,
  type LatencySubject,
  measureLatencies,
} from './latency.ts';
export { accuracyOf, type ClassMetrics, confusionMatrix, perClassMetrics } from './metrics.ts';
export { agreement, predictTop1 } from './predict.ts';
