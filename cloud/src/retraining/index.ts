// Retraining: per-model policies, and the orchestrator that turns drift (or an operator) into a
// challenger trained on original + recent edge data, judged by gates against the champion, canaried
// and promoted — or refused with the reason, never reaching a device.
export { type RefusalCode, RetrainRefusal, type RunRequest } from './admission.ts';
export { countLabelledSamples, type EdgeSample, loadLabelledSamples } from './fleet-samples.ts';
export { type GateVerdict, judgeChallenger, type VariantAccuracies } from './gates.ts';
export { RetrainOrchestrator, type RetrainOrchestratorOptions } from './orchestrator.ts';
export {
  DEFAULT_RETRAIN_POLICY,
  type RetrainPolicy,
  type RetrainPolicyInput,
  retrainPolicySchema,
} from './policy.ts';
export {
  ACTIVE_STATUSES,
  FINISHED_STATUSES,
  type RetrainRun,
  RUN_STATUSES,
  type RunProgress,
  type RunStatus,
} from './store.ts';
