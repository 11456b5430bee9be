// Parses the cloud's settings once, at start: defaults < environment < flags. A bad value fails
// start-up with one line per bad field naming where it came from, e.g.
// `EDGELOOP_HTTP_PORT=abc: http.port: Invalid input: expected number, received NaN`.
import { parseArgs } from 'node:util';
import { EdgeloopError } from '@edgeloop/shared';
import { type CloudConfig, cloudConfigSchema } from './schema.ts';
import { CLOUD_SETTINGS, type Setting } from './settings.ts';

export interface ConfigIssue {
  /** Dotted path into CloudConfig. */
  field: string;
  /** `--port=abc`, `EDGELOOP_HTTP_PORT=abc`, or `default`. */
  source: string;
  message: string;
}

export class ConfigError extends EdgeloopError {
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    super('VALIDATION_FAILED', issues.map((i) => `${i.source}: ${i.field}: ${i.message}`).join('\n'), {
      details: issues,
    });
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export type FlagValues = Record<string, string | boolean | undefined>;

export interface ConfigSources {
  /** Values by flag name (as `util.parseArgs` returns them). */
  flags?: FlagValues;
  env?: Record<string, string | undefined>;
}

/** `util.parseArgs` options for every setting, so any command can accept the cloud's flags. */
export function cloudFlagOptions(): Record<string, { type: 'string' | 'boolean' }> {
  return Object.fromEntries(CLOUD_SETTINGS.map((s) => [s.flag, { type: s.boolean ? 'boolean' : 'string' }]));
}

export function loadCloudConfig({ flags = {}, env = {} }: ConfigSources = {}): CloudConfig {
  const raw: Record<string, Record<string, unknown> | unknown> = {
    http: {},
    database: {},
    mqtt: {},
    log: {},
    auth: {},
    startup: {},
    shutdown: {},
  };
  const sourceOf = new Map<string, string>();
  for (const setting of CLOUD_SETTINGS) {
    const fromFlag = flags[setting.flag];
    const fromEnv = env[setting.env];
    // An empty env var counts as unset: `FOO= edgeloop ...` is how shells clear a value.
    if (fromFlag !== undefined) {
      assign(raw, setting.path, fromFlag);
      sourceOf.set(setting.path, describe(setting, `--${setting.flag}`, fromFlag));
    } else if (fromEnv !== undefined && fromEnv !== '') {
      assign(raw, setting.path, fromEnv);
      sourceOf.set(setting.path, describe(setting, setting.env, fromEnv));
    }
  }
  const result = cloudConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const field = issue.path.map(String).join('.');
      return { field, source: sourceOf.get(field) ?? 'default', message: issue.message };
    }),
  );
}

/** Parses a command line of cloud flags (and only those) plus the environment. */
export function parseCloudArgs(argv: string[], env: Record<string, string | undefined>): CloudConfig {
  let values: FlagValues;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: cloudFlagOptions(),
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new ConfigError([
      { field: '(command line)', source: argv.join(' '), message: (err as Error).message },
    ]);
  }
  return loadCloudConfig({ flags: values, env });
}

function describe(setting: Setting, name: string, value: string | boolean): string {
  if (value === true) return name;
  return `${name}=${setting.secret ? '***' : String(value)}`;
}

function assign(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) node = node[key] as Record<string, unknown>;
  node[keys[keys.length - 1] as string] = value;
}
