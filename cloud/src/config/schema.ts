// Every cloud setting in one zod schema. Values arrive as strings (flags, env), so scalar fields
// coerce; defaults here are the embedded quick-start defaults, and production overrides them.
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65_535);

/** `1048576`, `512kb`, `1mb`: bodies and limits are easier to type with a unit. */
export const byteSize = z.preprocess((value) => {
  if (typeof value !== 'string') return value;
  const match = /^\s*(\d+)\s*(b|kb|kib|mb|mib)?\s*$/i.exec(value);
  if (!match) return value; // left as a string so zod reports "expected number"
  const unit = (match[2] ?? 'b').toLowerCase();
  const factor = unit.startsWith('k') ? 1024 : unit.startsWith('m') ? 1024 * 1024 : 1;
  return Number(match[1]) * factor;
}, z.number().int().positive());

const booleanFlag = z.preprocess((value) => {
  if (typeof value !== 'string') return value;
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  return value;
}, z.boolean());

/** `el_<id>_<secret>`, the operator API's bearer-token format (see api/auth/token-format.ts). */
export const API_TOKEN_PATTERN = /^el_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

const url = (protocols: string[]) =>
  z.url().refine((value) => protocols.some((p) => value.startsWith(`${p}://`)), {
    message: `expected a ${protocols.join(':// or ')}:// URL`,
  });

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

export const cloudConfigSchema = z.strictObject({
  http: z.strictObject({
    host: z.string().min(1).default('127.0.0.1'),
    port: port.default(8080),
    /** Largest request body the API accepts; larger ones get 413 PAYLOAD_TOO_LARGE. */
    bodyLimit: byteSize.default(1024 * 1024),
    /** The URL clients should use when it differs from host:port (behind a proxy). */
    publicUrl: url(['http', 'https']).optional(),
  }),
  /** Embedded database files, the artifact store, the signing key and the quick-start admin token. */
  dataDir: z.string().min(1).default('./.edgeloop'),
  database: z.strictObject({
    /** PostgreSQL URL; unset means embedded PGlite in `<dataDir>/db`. */
    url: url(['postgres', 'postgresql']).optional(),
  }),
  mqtt: z.strictObject({
    /** External broker URL; unset means the embedded aedes broker. */
    url: url(['mqtt', 'mqtts', 'ws', 'wss', 'tcp']).optional(),
    /**
     * Embedded broker ports. Not 1883: a development machine often runs Mosquitto there already,
     * and the quick start must not collide with it.
     */
    host: z.string().min(1).default('127.0.0.1'),
    tcpPort: port.default(1884),
    wsPort: port.default(8884),
    /**
     * The cloud's own MQTT password (user `edgeloop-cloud`). Needed with an external broker (it is in
     * the generated Mosquitto password file); with the embedded broker a random one is made per start.
     */
    cloudSecret: z.string().min(16, 'must be at least 16 characters').optional(),
    /**
     * MQTT 5 shared-subscription group of this deployment's cloud processes: they split telemetry,
     * samples and artifact requests between them. Two deployments on one broker need two names.
     */
    shareGroup: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and - only (it becomes a topic level)')
      .default('edgeloop'),
  }),
  log: z.strictObject({
    level: z.enum(LOG_LEVELS).default('info'),
    /** `auto` = JSON lines unless stdout is a terminal. */
    format: z.enum(['auto', 'json', 'pretty']).default('auto'),
  }),
  auth: z.strictObject({
    /**
     * An admin token to ensure at start (for automation). The quick start instead creates one and
     * keeps it in the data dir.
     */
    adminToken: z.string().regex(API_TOKEN_PATTERN, 'expected el_<12 chars>_<43 chars>').optional(),
  }),
  startup: z.strictObject({
    /** How long to keep retrying an unreachable database or broker before giving up. */
    retryForMs: z.coerce.number().int().nonnegative().default(30_000),
  }),
  shutdown: z.strictObject({
    /** In-flight requests get this long to finish after SIGINT/SIGTERM. */
    graceMs: z.coerce.number().int().nonnegative().default(10_000),
  }),
  /** Quick start: create an admin token on first start and keep it in the data dir. */
  quickStart: booleanFlag.default(false),
});

export type CloudConfig = z.infer<typeof cloudConfigSchema>;
