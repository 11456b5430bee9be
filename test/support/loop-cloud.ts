// A whole cloud for end-to-end tests, on either path the product supports: the embedded defaults
// (PGlite in a fresh data dir, aedes on a free port) or real servers (a fresh PostgreSQL database
// on DATABASE_URL's server, dropped afterwards, and the broker at MQTT_URL). Its log is kept in
// memory so a failing test can show what the cloud said.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createLogger,
  createScratchPostgresDatabase,
  loadCloudConfig,
  type RunningCloud,
  type StartCloudOptions,
  startCloud,
} from '@edgeloop/cloud';

export interface CloudPath {
  name: 'embedded' | 'real servers';
  /** Set for the real-server path; undefined when that path cannot run here (see `skipReason`). */
  servers?: { databaseUrl: string; mqttUrl: string };
  /** Why this path is skipped, or undefined when it runs. */
  skipReason?: string;
}

/** Both paths: embedded always, real servers when DATABASE_URL and MQTT_URL are set (CI sets them). */
export function cloudPaths(env: NodeJS.ProcessEnv = process.env): CloudPath[] {
  const databaseUrl = env.DATABASE_URL;
  const mqttUrl = env.MQTT_URL;
  return [
    { name: 'embedded' },
    databaseUrl && mqttUrl
      ? { name: 'real servers', servers: { databaseUrl, mqttUrl } }
      : { name: 'real servers', skipReason: 'DATABASE_URL and MQTT_URL are not both set' },
  ];
}

export interface TestCloud {
  cloud: RunningCloud;
  api: OperatorApi;
  /** The cloud's log lines (JSON) at info and above, for failure messages. */
  log: string[];
  close(): Promise<void>;
}

export async function startTestCloud(path: CloudPath, options: StartCloudOptions = {}): Promise<TestCloud> {
  const dataDir = await mkdtemp(join(tmpdir(), 'edgeloop-e2e-cloud-'));
  const scratch = path.servers ? await createScratchPostgresDatabase(path.servers.databaseUrl) : undefined;
  const log: string[] = [];
  const logger = createLogger({
    level: 'info',
    format: 'json',
    sink: {
      write: (line: string) => {
        log.push(line.trimEnd());
        return true;
      },
    },
  });
  const cleanup = async () => {
    await scratch?.drop().catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  };
  let cloud: RunningCloud;
  try {
    const config = loadCloudConfig({
      flags: {
        port: '0',
        'data-dir': dataDir,
        'quick-start': true,
        ...(path.servers
          ? {
              'database-url': scratch?.url,
              'mqtt-url': path.servers.mqttUrl,
              // Its own group: other suites' clouds on the shared Mosquitto must not take its telemetry.
              'mqtt-share-group': `loop-${randomBytes(4).toString('hex')}`,
            }
          : { 'mqtt-port': '0', 'mqtt-ws-port': '0' }),
      },
    });
    cloud = await startCloud(config, { logger, ...options });
  } catch (error) {
    await cleanup();
    throw error;
  }
  return {
    cloud,
    api: new OperatorApi(cloud.urls.api, cloud.adminToken as string),
    log,
    async close() {
      await cloud.close();
      await cleanup();
    },
  };
}

/** The operator API with the quick start's admin token; every call checks the status it expects. */
export class OperatorApi {
  constructor(
    readonly baseUrl: string,
    readonly token: string,
  ) {}

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path, undefined, 200);
  }

  post<T>(path: string, body: unknown, expected = 201): Promise<T> {
    return this.call<T>('POST', path, body, expected);
  }

  put<T>(path: string, body: unknown, expected = 200): Promise<T> {
    return this.call<T>('PUT', path, body, expected);
  }

  async call<T>(method: string, path: string, body: unknown, expected: number): Promise<T> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (response.status !== expected) {
      throw new Error(`${method} ${path}: expected ${expected}, got ${response.status}: ${text}`);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }
}

/** Polls `probe` until it returns a value; on timeout the error shows what `seen` says. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  options: { timeoutMs: number; everyMs?: number; seen?: () => unknown },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      const seen = options.seen ? `; last seen ${JSON.stringify(await options.seen())}` : '';
      throw new Error(`timed out after ${options.timeoutMs / 1000} s waiting for ${what}${seen}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.everyMs ?? 250));
  }
}
