// The fleet simulator: many real agents in one process, fed by synthetic cameras (`edgeloop sim`,
// the demo, end-to-end and load tests).
export { type CameraCounters, SyntheticCamera, type SyntheticCameraOptions } from './camera.ts';
export {
  CorruptibleFrameSource,
  type FrameCorruption,
  type FrameTransform,
  seededRandom,
} from './corruption.ts';
export {
  type ClassShare,
  parseClassMix,
  planDevices,
  type SimulatedDeviceInfo,
  simulatedProfile,
} from './device-plan.ts';
export { accuracyOf, DeviceStats, type FrameCounts } from './device-stats.ts';
export {
  type DeviceSelector,
  type FleetStats,
  type SimulatedDeviceStats,
  SimulatedFleet,
  type SimulatedFleetOptions,
} from './fleet.ts';
export { FleetMeter, type FleetSummary, formatSummary } from './fleet-meter.ts';
export { type Frame, FrameCycle, type FrameSource, meanLevel } from './frame-source.ts';
export {
  type DeviceCredentials,
  type DeviceIdentityRequest,
  type DeviceProvisioner,
  HttpDeviceProvisioner,
  type HttpDeviceProvisionerOptions,
  SharedTokenProvisioner,
} from './provisioner.ts';
