// The cloud's CLI commands, registered by the `edgeloop` dispatcher (bin/cli.ts).
import { alertCommands } from './alerts.ts';
import { appKeyCommands } from './app-key.ts';
import { brokerCommands } from './broker.ts';
import { cloudStartCommands } from './cloud-start.ts';
import type { CliCommand } from './command.ts';
import { deviceCommands } from './device.ts';
import { driftCommands } from './drift.ts';
import { groupCommands } from './group.ts';
import { modelCommands } from './model.ts';
import { modelJobCommands } from './model-jobs.ts';
import { retrainCommands } from './retrain.ts';
import { rolloutCommands } from './rollout.ts';
import { sampleCommands } from './samples.ts';
import { tokenCommands } from './token.ts';

export { ApiClient, ApiRequestError, CLIENT_OPTIONS, clientFrom } from './api-client.ts';
export { type AfterCloudStart, quickStartCommand } from './cloud-start.ts';
export {
  type CliCommand,
  type CliIO,
  type CliOption,
  CliUsageError,
  type CliValues,
  EXIT,
} from './command.ts';

export const cloudCliCommands: CliCommand[] = [
  ...cloudStartCommands,
  ...deviceCommands,
  ...groupCommands,
  ...modelCommands,
  ...modelJobCommands,
  ...rolloutCommands,
  ...retrainCommands,
  ...sampleCommands,
  ...tokenCommands,
  ...appKeyCommands,
  ...brokerCommands,
  ...alertCommands,
  ...driftCommands,
];
