// MQTT: the broker's authorization rules, the embedded aedes broker, Mosquitto files for an external
// broker, the cloud's connection and the bridge that speaks the device contract.
export {
  type AclDecision,
  type AclRejection,
  canPublish,
  canSubscribe,
  checkFilterSyntax,
  filterMatches,
} from './acl.ts';
export { BridgeError, MqttBridge, type MqttBridgeEvents, type MqttBridgeOptions } from './bridge.ts';
export {
  type CloudMqttConnection,
  type CloudMqttOptions,
  connectCloudMqtt,
  MqttConnectionError,
} from './connection.ts';
export type { DeadLetter } from './dead-letters.ts';
export {
  BrokerError,
  type EmbeddedBroker,
  type EmbeddedBrokerOptions,
  type RejectionStage,
  startEmbeddedBroker,
} from './embedded-broker.ts';
export {
  exportMosquittoFiles,
  type MosquittoConfOptions,
  mosquittoAclFile,
  mosquittoConf,
  mosquittoPasswordFile,
  type PasswordEntry,
  type WrittenMosquittoFiles,
  writeMosquittoFiles,
} from './mosquitto-files.ts';
export { type Logger, silentLogger } from './observability.ts';
export {
  type AckHold,
  type MessageConsumer,
  MessageRouter,
  type RouteRegistration,
} from './router.ts';
