import { isDeviceId } from './ids.ts';

/**
 * The MQTT topic tree (contract v1). Every topic string in edgeloop is built and parsed here; no
 * other module writes a topic by hand.
 *
 *   el/v1/dev/{id}/status | desired | reported | telemetry | samples | artifact/req
 *   el/v1/art/{sha256}/{chunk}
 */
export const TOPIC_PREFIX = 'el/v1';

export const DEVICE_CHANNELS = [
  'status',
  'desired',
  'reported',
  'telemetry',
  'samples',
  'artifact/req',
] as const;
export type DeviceChannel = (typeof DEVICE_CHANNELS)[number];

/** Who publishes on each device channel; the broker ACL is derived from this table. */
export const CHANNEL_PUBLISHER: Record<DeviceChannel, 'device' | 'cloud'> = {
  status: 'device',
  desired: 'cloud',
  reported: 'device',
  telemetry: 'device',
  samples: 'device',
  'artifact/req': 'device',
};

export type ParsedTopic =
  | { kind: 'device'; deviceId: string; channel: DeviceChannel }
  | { kind: 'artifact-chunk'; sha256: string; chunk: number };

export class TopicError extends Error {
  readonly code = 'TOPIC_INVALID' as const;
  constructor(
    message: string,
    readonly topic: string,
  ) {
    super(message);
    this.name = 'TopicError';
  }
}

const SHA256 = /^[0-9a-f]{64}$/;
/** Chunk indices are decimal without leading zeros, so each chunk has exactly one topic. */
const CHUNK_INDEX = /^(0|[1-9][0-9]{0,8})$/;

function assertDeviceId(deviceId: string): void {
  if (!isDeviceId(deviceId)) {
    throw new TopicError(`invalid device id ${JSON.stringify(deviceId)}`, deviceId);
  }
}

export function deviceTopic(deviceId: string, channel: DeviceChannel): string {
  assertDeviceId(deviceId);
  return `${TOPIC_PREFIX}/dev/${deviceId}/${channel}`;
}

export const topics = {
  status: (deviceId: string) => deviceTopic(deviceId, 'status'),
  desired: (deviceId: string) => deviceTopic(deviceId, 'desired'),
  reported: (deviceId: string) => deviceTopic(deviceId, 'reported'),
  telemetry: (deviceId: string) => deviceTopic(deviceId, 'telemetry'),
  samples: (deviceId: string) => deviceTopic(deviceId, 'samples'),
  artifactRequest: (deviceId: string) => deviceTopic(deviceId, 'artifact/req'),
  artifactChunk(sha256: string, chunk: number): string {
    if (!SHA256.test(sha256)) throw new TopicError(`invalid sha256 ${JSON.stringify(sha256)}`, sha256);
    if (!Number.isSafeInteger(chunk) || chunk < 0 || chunk > 999_999_999) {
      throw new TopicError(`invalid chunk index ${chunk}`, String(chunk));
    }
    return `${TOPIC_PREFIX}/art/${sha256}/${chunk}`;
  },
} as const;

/** Subscription filters (with wildcards) for the cloud side and for devices. */
export const topicFilters = {
  /** Everything devices publish on one channel, e.g. all telemetry. */
  allDevices: (channel: DeviceChannel) => `${TOPIC_PREFIX}/dev/+/${channel}`,
  /** MQTT 5 shared subscription, so several cloud workers split one channel's load. */
  shared: (group: string, channel: DeviceChannel) => {
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(group)) throw new TopicError(`invalid share group ${group}`, group);
    return `$share/${group}/${TOPIC_PREFIX}/dev/+/${channel}`;
  },
  /** All chunks of one artifact. */
  artifactChunks: (sha256: string) => {
    if (!SHA256.test(sha256)) throw new TopicError(`invalid sha256 ${JSON.stringify(sha256)}`, sha256);
    return `${TOPIC_PREFIX}/art/${sha256}/+`;
  },
} as const;

/** Parses a concrete topic (no wildcards) into its typed parts, or throws a TopicError saying why. */
export function parseTopic(topic: string): ParsedTopic {
  const parts = topic.split('/');
  if (parts[0] !== 'el' || parts[1] !== 'v1') {
    throw new TopicError(`topic must start with ${TOPIC_PREFIX}/`, topic);
  }
  if (parts[2] === 'dev') {
    const deviceId = parts[3] ?? '';
    if (!isDeviceId(deviceId)) throw new TopicError(`invalid device id in topic`, topic);
    const channel = parts.slice(4).join('/');
    if (!(DEVICE_CHANNELS as readonly string[]).includes(channel)) {
      throw new TopicError(`unknown device channel ${JSON.stringify(channel)}`, topic);
    }
    return { kind: 'device', deviceId, channel: channel as DeviceChannel };
  }
  if (parts[2] === 'art') {
    if (parts.length !== 5) throw new TopicError('artifact topic must be el/v1/art/{sha256}/{chunk}', topic);
    const [, , , sha256 = '', chunk = ''] = parts;
    if (!SHA256.test(sha256)) throw new TopicError('invalid sha256 in artifact topic', topic);
    if (!CHUNK_INDEX.test(chunk)) throw new TopicError('invalid chunk index in artifact topic', topic);
    return { kind: 'artifact-chunk', sha256, chunk: Number(chunk) };
  }
  throw new TopicError(`unknown topic family ${JSON.stringify(parts[2] ?? '')}`, topic);
}

/** Like parseTopic, but returns undefined instead of throwing. */
export function tryParseTopic(topic: string): ParsedTopic | undefined {
  try {
    return parseTopic(topic);
  } catch {
    return undefined;
  }
}
