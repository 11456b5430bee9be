import { artifactRequestPayload } from './messages/artifact.ts';
import { desiredStatePayload } from './messages/desired.ts';
import { reportedStatePayload } from './messages/reported.ts';
import { sampleBatchPayload } from './messages/samples.ts';
import { deviceStatusPayload } from './messages/status.ts';
import { telemetryWindowPayload } from './messages/telemetry.ts';
import type { DeviceChannel } from './topics.ts';

/** One map from device channel to its payload codec: the MQTT contract in one place. */
export const channelPayloads = {
  status: deviceStatusPayload,
  desired: desiredStatePayload,
  reported: reportedStatePayload,
  telemetry: telemetryWindowPayload,
  samples: sampleBatchPayload,
  'artifact/req': artifactRequestPayload,
} as const satisfies Record<DeviceChannel, unknown>;

/** QoS and retain flag for each device channel (DESIGN.md, MQTT contract v1). */
export const channelDelivery: Record<DeviceChannel, { qos: 0 | 1; retain: boolean }> = {
  status: { qos: 1, retain: true },
  desired: { qos: 1, retain: true },
  reported: { qos: 1, retain: true },
  telemetry: { qos: 1, retain: false },
  samples: { qos: 1, retain: false },
  'artifact/req': { qos: 1, retain: false },
};

/** Chunks are published at QoS 1, not retained (devices ask for what they miss). */
export const artifactChunkDelivery = { qos: 1, retain: false } as const;
