// Device identity: provisioning, one-time credentials in Mosquitto's $7$ format, rotation,
// revocation, and the login check brokers call.
export type { AuthOutcome, AuthRejectionCode, BrokerAuthenticator } from './authenticator.ts';
export {
  type DeviceCredentialsSecret,
  type DeviceRecord,
  DeviceRegistry,
  type DeviceRegistryOptions,
  firmwareDeviceClasses,
  type ProvisionInput,
  provisionInputSchema,
} from './device-registry.ts';
export { IdentityError } from './errors.ts';
export {
  CLOUD_USERNAME,
  cloudPrincipal,
  devicePrincipal,
  type Principal,
  principalName,
} from './principal.ts';
export {
  DEFAULT_HASH_ITERATIONS,
  generateSecret,
  hashSecret,
  parseSecretHash,
  verifySecret,
} from './secret-hash.ts';
