// Rollouts: move a target (group, tags, device class, device list) to a model version in waves,
// judged by thresholds, soak time, per-device timeouts and health gates; pause or roll back on
// failure. Pure planner and state machine, Postgres persistence, and a scheduler under an advisory
// lock that publishes desired states through the MQTT bridge.

export { applyCommand, type RolloutCommand } from './commands.ts';
export {
  type CohortHealth,
  type CohortQuery,
  evaluateGates,
  type GateResult,
  jensenShannon,
  mergeWindows,
  type RolloutTelemetry,
  TelemetryMemory,
} from './gates.ts';
export {
  advance,
  type DeviceObservation,
  type DeviceRolloutState,
  type Observations,
  type RolloutAction,
  type RolloutDevice,
  type RolloutEvent,
  type RolloutState,
  type RolloutStatus,
  type RolloutWave,
  type WaveCounts,
  waveCounts,
} from './machine.ts';
export {
  chooseVariant,
  type ExcludedDevice,
  type FleetDevice,
  type PlannedDevice,
  type PlannedWave,
  planRollback,
  planRollout,
  type RolloutPlan,
  seededShuffle,
  type VariantOption,
  waveBoundaries,
} from './plan.ts';
export {
  DEFAULT_GATES,
  DEFAULT_WAVES,
  type Gates,
  parseWaveList,
  type RolloutPolicy,
  type RolloutPolicyInput,
  type RolloutTarget,
  rolloutPolicySchema,
  rolloutTargetSchema,
  type ShadowPolicy,
  shadowPolicySchema,
  type WaveParams,
  type WaveSpec,
} from './policy.ts';
export {
  type RolloutBridge,
  RolloutScheduler,
  type RolloutSchedulerOptions,
  type TickSummary,
} from './scheduler.ts';
export {
  type CreateRolloutInput,
  createRolloutSchema,
  RolloutService,
  type RolloutServiceOptions,
} from './service.ts';
export type { ShadowPhase, ShadowResult, ShadowStatus } from './shadow.ts';
export type { Conflict, StoredEvent } from './store.ts';
export type { DeviceView, RolloutView, ShadowView, WaveView } from './views.ts';
