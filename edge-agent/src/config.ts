// The agent's configuration: one zod schema, parsed once at start-up from command-line flags and
// environment variables (flags win). A bad value fails the start with a message naming the flag and
// the variable that carry it, never later in the middle of an update.
import { describeIssues, deviceIdSchema, EdgeloopError, formatIssues, isBase64 } from '@edgeloop/shared';
import { z } from 'zod';

/** Reported in the device status; bumped with the package version. */
export const AGENT_VERSION = '0.1.0';

const MQTT_PROTOCOLS = ['mqtt:', 'mqtts:', 'tcp:', 'ssl:', 'tls:', 'ws:', 'wss:'];

const urlWith = (protocols: string[], what: string) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a ${what} URL (${protocols.map((p) => p.replace(':', '://')).join(', ')})` },
  );

/** Knobs with production defaults; tests and the fleet simulator shorten the waits. */
export const agentTuningSchema = z.object({
  keepaliveSeconds: z.number().int().min(5).max(3600).default(30),
  /** MQTT 5 session expiry: a week of outage still gets queued QoS 1 messages. */
  sessionExpirySeconds: z
    .number()
    .int()
    .min(0)
    .max(4_294_967_295)
    .default(7 * 24 * 3600),
  mqttProtocol: z.union([z.literal('auto'), z.literal(4), z.literal(5)]).default('auto'),
  reconnect: z
    .object({
      initialMs: z.number().int().min(10).default(1000),
      maxMs: z.number().int().min(10).default(60_000),
    })
    .default({ initialMs: 1000, maxMs: 60_000 }),
  connectTimeoutMs: z.number().int().min(100).default(10_000),
  /** No new chunk for this long while connected: ask again for what is missing. */
  chunkQuietMs: z.number().int().min(10).default(5000),
  /** Consecutive quiet periods without progress before a download attempt fails with TIMEOUT. */
  maxQuietRetries: z.number().int().min(1).default(10),
  /** Chunks asked for per request: bounds what a fleet asks the broker to fan out at once. */
  requestWindowChunks: z.number().int().min(1).max(100_000).default(64),
  /** Minimum time between two `downloading` progress reports. */
  progressIntervalMs: z.number().int().min(0).default(1000),
  /**
   * Transient failures of one desired generation (timeouts, disk, checksum) retried `retryDelayMs`
   * apart; after that many attempts the delay doubles up to `maxRetryDelayMs`, and the agent keeps
   * trying while that desired state stands: the cloud counts the device `retrying`, not lost.
   * Permanent failures (signature, golden check, model too large, …) are never retried.
   */
  maxUpdateAttempts: z.number().int().min(1).default(3),
  retryDelayMs: z.number().int().min(0).default(30_000),
  maxRetryDelayMs: z
    .number()
    .int()
    .min(0)
    .default(30 * 60_000),
  /** A newly activated model is confirmed (boot counter cleared) after this long, or ... */
  healthConfirmMs: z.number().int().min(0).default(60_000),
  /** ... after this many successful inferences, whichever comes first. */
  healthConfirmInferences: z.number().int().min(1).default(100),
  /** Unconfirmed boots of a model before it is rolled back (crash loop). */
  maxBootAttempts: z.number().int().min(1).default(3),
  /** Overrides the telemetry window of the profile and the desired config (simulator, tests). */
  telemetryWindowMs: z.number().int().min(10).optional(),
  maxImageBytes: z
    .number()
    .int()
    .min(1024)
    .default(8 * 1024 * 1024),
  keysFetchTimeoutMs: z.number().int().min(100).default(10_000),
  /** Retraining samples (when the profile enables them) are sent at least this often. */
  samplesFlushMs: z.number().int().min(10).default(5000),
  /** Samples held in memory while offline; the oldest are dropped past this (samples are best effort). */
  samplesQueueMax: z.number().int().min(1).max(1024).default(64),
});
export type AgentTuning = z.output<typeof agentTuningSchema>;

export const agentConfigSchema = z.object({
  deviceId: deviceIdSchema,
  /** The device's MQTT password (its token from the cloud). */
  token: z.string().min(1, 'a device token is required'),
  brokerUrl: urlWith(MQTT_PROTOCOLS, 'broker'),
  /** The cloud's HTTP API, used to fetch the signing keys at first start. */
  cloudUrl: urlWith(['http:', 'https:'], 'cloud').optional(),
  /** A firmware-configs profile id ("raspberry-pi-4") or a path to a profile file. */
  profile: z.string().min(1, 'a device profile is required'),
  dataDir: z.string().min(1, 'a data directory is required'),
  /** Raw 32-byte Ed25519 public keys, base64. Empty: fetch from the cloud once and pin on disk. */
  trustedKeys: z
    .array(z.string().length(44, 'must be 32 bytes of base64').refine(isBase64, 'must be base64'))
    .default([]),
  api: z
    .object({
      host: z.string().min(1).default('127.0.0.1'),
      /** 0 picks a free port (many simulated agents in one process). */
      port: z.number().int().min(0).max(65_535).default(8080),
    })
    .default({ host: '127.0.0.1', port: 8080 }),
  agentVersion: z.string().min(1).max(32).default(AGENT_VERSION),
  tuning: agentTuningSchema.default(agentTuningSchema.parse({})),
});
export type AgentConfig = z.output<typeof agentConfigSchema>;
export type AgentConfigInput = z.input<typeof agentConfigSchema>;

/** Where each field comes from, for error messages: the flag and the environment variable. */
export const CONFIG_SOURCES = {
  deviceId: ['--device-id', 'EDGELOOP_DEVICE_ID'],
  token: ['--token', 'EDGELOOP_TOKEN'],
  brokerUrl: ['--broker', 'EDGELOOP_BROKER_URL'],
  cloudUrl: ['--cloud', 'EDGELOOP_CLOUD_URL'],
  profile: ['--profile', 'EDGELOOP_PROFILE'],
  dataDir: ['--data-dir', 'EDGELOOP_DATA_DIR'],
  trustedKeys: ['--trusted-key', 'EDGELOOP_TRUSTED_KEYS'],
  'api.host': ['--api-host', 'EDGELOOP_API_HOST'],
  'api.port': ['--api-port', 'EDGELOOP_API_PORT'],
} as const;

function describeField(path: string): string {
  const key = (Object.keys(CONFIG_SOURCES) as (keyof typeof CONFIG_SOURCES)[]).find(
    (k) => path === k || path.startsWith(`${k}.`),
  );
  if (!key) return path;
  const [flag, env] = CONFIG_SOURCES[key];
  return `${path} (${flag} / ${env})`;
}

/** Validates a config object; the error names every bad field with its flag and variable. */
export function parseAgentConfig(input: unknown): AgentConfig {
  const parsed = agentConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issues = describeIssues(parsed.error).map((i) => ({ ...i, path: describeField(i.path) }));
    throw new EdgeloopError('VALIDATION_FAILED', `invalid agent configuration: ${formatIssues(issues)}`, {
      details: { issues },
    });
  }
  return parsed.data;
}

export interface ConfigSources {
  /** Parsed command-line flags, by name without dashes ("device-id"); repeatable flags as arrays. */
  flags: Record<string, string | string[] | undefined>;
  env: Record<string, string | undefined>;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.at(-1) : value;
}

/**
 * Builds the config from flags and environment. Without `--broker`, the broker is assumed on the
 * cloud's host at the standard MQTT port (the default single-machine deployment).
 */
export function agentConfigFromSources({ flags, env }: ConfigSources): AgentConfig {
  const pick = (flag: string, variable: string) => single(flags[flag]) ?? env[variable] ?? undefined;
  const cloudUrl = pick('cloud', 'EDGELOOP_CLOUD_URL');
  let brokerUrl = pick('broker', 'EDGELOOP_BROKER_URL') ?? env['MQTT_URL'];
  if (brokerUrl === undefined && cloudUrl !== undefined) {
    try {
      brokerUrl = `mqtt://${new URL(cloudUrl).hostname}:1883`;
    } catch {
      // left undefined: the cloud URL itself is reported as invalid below
    }
  }
  const keyFlags = flags['trusted-key'];
  const trustedKeys = [
    ...(Array.isArray(keyFlags) ? keyFlags : keyFlags ? [keyFlags] : []),
    ...(env['EDGELOOP_TRUSTED_KEYS']?.split(',') ?? []),
  ]
    .map((k) => k.trim())
    .filter((k) => k.length > 0);
  const port = pick('api-port', 'EDGELOOP_API_PORT');
  return parseAgentConfig({
    deviceId: pick('device-id', 'EDGELOOP_DEVICE_ID'),
    token: pick('token', 'EDGELOOP_TOKEN'),
    brokerUrl,
    cloudUrl,
    profile: pick('profile', 'EDGELOOP_PROFILE'),
    dataDir: pick('data-dir', 'EDGELOOP_DATA_DIR'),
    trustedKeys,
    api: {
      host: pick('api-host', 'EDGELOOP_API_HOST') ?? '127.0.0.1',
      port: port === undefined ? 8080 : /^\d+$/.test(port) ? Number(port) : port,
    },
  });
}
