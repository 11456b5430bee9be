// The system a chaos run shakes: a broker (the embedded aedes, started apart from the cloud so it can
// restart on its own, with the same ACL and an in-memory copy of the provisioned credentials), the
// cloud (`startCloud` on one data dir: PGlite lives in it, so a cloud restart is also a database
// restart) and real edge agents, each with its own data dir that survives kills.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type AuthOutcome,
  type BrokerAuthenticator,
  CLOUD_USERNAME,
  type EmbeddedBroker,
  loadCloudConfig,
  type Principal,
  type RunningCloud,
  silentLogger,
  startCloud,
  startEmbeddedBroker,
} from '@edgeloop/cloud';
import { type AgentHandle, startAgent } from '@edgeloop/edge-agent';
import { type DeviceProfile, deviceProfileSchema, type TelemetryWindow } from '@edgeloop/shared';
import { DEVICE_CLASS, type FleetSetup } from './fleet-setup.ts';

/** Logins are checked against the provisioned credentials; a partitioned device cannot reach the broker. */
class ChaosAuthenticator implements BrokerAuthenticator {
  readonly accounts = new Map<string, { password: string; principal: Principal }>();
  readonly partitioned = new Set<string>();

  async authenticate(username: string | undefined, password: string | undefined): Promise<AuthOutcome> {
    const account = username === undefined ? undefined : this.accounts.get(username);
    if (!account || account.password !== password)
      return { ok: false, code: 'UNAUTHENTICATED', reason: 'bad credentials' };
    // A throw is "server unavailable" for the client, which keeps retrying, like a network outage.
    if (account.principal.kind === 'device' && this.partitioned.has(account.principal.deviceId))
      throw new Error(`chaos: ${account.principal.deviceId} is partitioned`);
    return { ok: true, principal: account.principal };
  }
}

/** The simulated profile with a byte bound on the telemetry queue (a nearly full disk). */
export function simulatedProfile(queueMaxBytes: number): DeviceProfile {
  return deviceProfileSchema.parse({
    profileVersion: 1,
    id: DEVICE_CLASS,
    name: 'Simulated device',
    arch: 'x64',
    executionProviders: ['cpu'],
    threads: { intraOp: 1, interOp: 1 },
    preferredVariant: 'int8',
    maxModelBytes: 67_108_864,
    memoryBudgetBytes: 268_435_456,
    telemetry: { windowSeconds: 3600, queueMaxBytes },
    sampling: { enabled: false, rate: 0, lowConfidenceThreshold: 0, maxPerHour: 0 },
    download: { chunkSize: 65_536 },
  });
}

export interface ChaosWorldOptions {
  dir: string;
  setup: FleetSetup;
  cloudSecret: string;
  adminToken: string;
  deviceIds: readonly string[];
  /** Devices whose telemetry queue holds only a few windows. */
  smallDisk: ReadonlySet<string>;
}

export class ChaosWorld {
  readonly auth = new ChaosAuthenticator();
  broker!: EmbeddedBroker;
  cloud: RunningCloud | null = null;
  readonly agents = new Map<string, AgentHandle>();
  /** Sequence numbers each agent closed into a window (durably queued before flushTelemetry returns). */
  readonly windows = new Map<string, Set<number>>();
  /** When each of those windows was closed (device → seq → epoch ms). */
  readonly closedAt = new Map<string, Map<number, number>>();
  /** A window some agent produced: the template for forged ones. */
  lastWindow: TelemetryWindow | null = null;
  /** Every model an agent started serving (boot, activation, rollback). */
  readonly served: { deviceId: string; sha256: string; reason: string }[] = [];
  #brokerPort = 0;

  constructor(readonly o: ChaosWorldOptions) {
    this.auth.accounts.set(CLOUD_USERNAME, {
      password: o.cloudSecret,
      principal: { kind: 'cloud', username: CLOUD_USERNAME },
    });
    for (const [id, password] of o.setup.credentials)
      this.auth.accounts.set(id, { password, principal: { kind: 'device', deviceId: id } });
  }

  get brokerUrl(): string {
    return `mqtt://127.0.0.1:${this.#brokerPort}`;
  }

  async startBroker(): Promise<void> {
    this.broker = await startEmbeddedBroker({ authenticator: this.auth, port: this.#brokerPort });
    this.#brokerPort = this.broker.port;
  }

  async startCloud(): Promise<void> {
    const config = loadCloudConfig({
      flags: { port: '0', 'data-dir': join(this.o.dir, 'cloud') },
      env: {
        MQTT_URL: this.brokerUrl,
        EDGELOOP_MQTT_CLOUD_SECRET: this.o.cloudSecret,
        EDGELOOP_ADMIN_TOKEN: this.o.adminToken,
      },
    });
    this.cloud = await startCloud(config, {
      logger: silentLogger,
      bootstrapModel: false,
      alerts: { intervalMs: 3_600_000 },
    });
  }

  async stopCloud(): Promise<void> {
    await this.cloud?.close();
    this.cloud = null;
  }

  async startAgent(id: string): Promise<void> {
    const dataDir = join(this.o.dir, 'agents', id);
    await mkdir(dataDir, { recursive: true });
    const agent = await startAgent(
      {
        deviceId: id,
        token: this.o.setup.credentials.get(id) as string,
        brokerUrl: this.brokerUrl,
        profile: DEVICE_CLASS,
        dataDir,
        trustedKeys: [this.o.setup.publicKey],
        api: { host: '127.0.0.1', port: 0 },
        tuning: {
          keepaliveSeconds: 5,
          reconnect: { initialMs: 100, maxMs: 1000 },
          connectTimeoutMs: 3000,
          chunkQuietMs: 500,
          progressIntervalMs: 0,
          maxUpdateAttempts: 3,
          retryDelayMs: 500,
        },
      },
      { profile: simulatedProfile(this.o.smallDisk.has(id) ? 4_096 : 1_048_576) },
    );
    agent.events.on('modelServing', this, ({ model, reason }) => {
      if (model) this.served.push({ deviceId: id, sha256: model.sha256, reason });
    });
    const now = agent.status().model;
    if (now) this.served.push({ deviceId: id, sha256: now.sha256, reason: 'boot' });
    this.agents.set(id, agent);
  }

  /** A crash: no offline status, no flush; the broker's last will says offline. */
  async killAgent(id: string): Promise<void> {
    const agent = this.agents.get(id);
    this.agents.delete(id);
    await agent?.stop({ graceful: false });
  }

  /** One telemetry window per running agent, with a couple of inferences in it. */
  async closeWindows(only?: string): Promise<void> {
    const image = { data: Uint8Array.from([20, 120, 220, 80]), width: 2, height: 2, channels: 1 as const };
    await Promise.all(
      [...this.agents].map(async ([id, agent]) => {
        if (only !== undefined && id !== only) return;
        if (agent.status().model) await agent.infer(image).catch(() => undefined);
        const window = await agent.flushTelemetry().catch(() => null);
        if (!window) return;
        this.lastWindow = window;
        const seqs = this.windows.get(id) ?? new Set<number>();
        seqs.add(window.seq);
        this.windows.set(id, seqs);
        const at = this.closedAt.get(id) ?? new Map<number, number>();
        at.set(window.seq, Date.now());
        this.closedAt.set(id, at);
      }),
    );
  }

  async api<T>(path: string, init: RequestInit = {}): Promise<T> {
    if (!this.cloud) throw new Error('the cloud is down');
    const response = await fetch(`${this.cloud.urls.api}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${this.o.adminToken}`, 'content-type': 'application/json' },
    });
    const body = (await response.json()) as T;
    if (!response.ok)
      throw new Error(`${init.method ?? 'GET'} ${path}: ${response.status} ${JSON.stringify(body)}`);
    return body;
  }

  async stop(): Promise<void> {
    for (const id of [...this.agents.keys()]) await this.agents.get(id)?.stop();
    this.agents.clear();
    await this.stopCloud();
    await this.broker?.close();
  }
}
