// The cloud side of a rollout plus a small fleet of real agents, for rollout end-to-end tests: the
// cloud's embedded broker (device logins through the identity registry), MQTT bridge, artifact
// server and signed registry holding a tiny 'digits' model on a real database, and `startAgent`
// instances (half on an fp32 device class, half on int8) that download, verify, golden-check and
// activate what a scheduler sends. Every agent is online when `startRolloutFleet` returns.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ArtifactServer,
  type CloudMqttConnection,
  connectCloudMqtt,
  type Database,
  DeviceRegistry,
  type EmbeddedBroker,
  FsArtifactStore,
  GraphBuilder,
  ModelRegistry,
  MqttBridge,
  RolloutScheduler,
  RolloutService,
  SigningKeys,
  schema,
  startEmbeddedBroker,
  type VersionRecord,
} from '@edgeloop/cloud';
import { type AgentHandle, startAgent } from '@edgeloop/edge-agent';
import { base64Encode, type DeviceProfile, deviceProfileSchema } from '@edgeloop/shared';

export const CHUNK = 1024;
const CLOUD_SECRET = 'rollouts-e2e-cloud-secret';

function profile(id: string, preferredVariant: 'fp32' | 'int8'): DeviceProfile {
  return deviceProfileSchema.parse({
    profileVersion: 1,
    id,
    name: id,
    arch: 'x64',
    executionProviders: ['cpu'],
    threads: { intraOp: 1, interOp: 1 },
    preferredVariant,
    maxModelBytes: 1024 * 1024,
    memoryBudgetBytes: 64 * 1024 * 1024,
    telemetry: { windowSeconds: 60, queueMaxBytes: 64 * 1024 },
    sampling: { enabled: false, rate: 0, lowConfidenceThreshold: 0, maxPerHour: 0 },
    download: { chunkSize: CHUNK },
  });
}
export const PROFILES = new Map([
  ['sim-fp32', profile('sim-fp32', 'fp32')],
  ['sim-int8', profile('sim-int8', 'int8')],
]);

/** Devices whose id ends in an even digit are fp32-class, the others int8-class. */
export const classOf = (id: string) => (Number(id.slice(-1)) % 2 === 0 ? 'sim-fp32' : 'sim-int8');

/** The sha256 of the variant of `version` that device `id` prefers. */
export const shaOf = (version: VersionRecord, id: string) =>
  version.variants.find((v) => v.variant === (PROFILES.get(classOf(id))?.preferredVariant ?? 'fp32'))?.sha256;

/**
 * A 2×2 grey → 3-class linear model padded past a few chunks (`paddingValues` float32 constants,
 * default 1024), with a golden case whose expected probabilities are computed here; `breakGolden`
 * records wrong ones (the model fails its check).
 */
export function digitsVariant(
  seed: number,
  { breakGolden = false, paddingValues = 1024 }: { breakGolden?: boolean; paddingValues?: number } = {},
) {
  const weights = Float32Array.from({ length: 12 }, (_, i) => Math.sin(seed * 31 + i));
  const b = new GraphBuilder({ opset: 13 });
  const x = b.input('input', ['N', 1, 2, 2]);
  const flat = b.node('Flatten', [x], { axis: 1 });
  const logits = b.node('MatMul', [flat, b.initializer('w', [4, 3], weights)], {}, 'logits');
  // A second output over the padding constants makes the artifact span several chunks.
  const padding = b.initializer(
    'padding',
    [paddingValues],
    Float32Array.from({ length: paddingValues }, (_, i) => seed + i),
  );
  b.output(b.node('Identity', [padding], {}, 'padding_out'), [paddingValues]);
  b.output(b.node('Softmax', [logits], { axis: 1 }, 'probabilities'), ['N', 3]);
  const input = [0.1, 0.5, 0.9, 0.3];
  const z = [0, 1, 2].map((c) => input.reduce((sum, v, f) => sum + v * (weights[f * 3 + c] as number), 0));
  const e = z.map((v) => Math.exp(v - Math.max(...z)));
  const expected = e.map((v) => v / e.reduce((s, w) => s + w, 0) + (breakGolden ? 0.5 : 0));
  const f32 = (values: number[]) => base64Encode(new Uint8Array(Float32Array.from(values).buffer));
  return {
    bytes: b.toBytes(),
    manifestFields: {
      input: { name: 'input', shape: ['batch', 1, 2, 2], dtype: 'float32' as const },
      outputs: [
        {
          name: 'probabilities',
          shape: ['batch', 3],
          dtype: 'float32' as const,
          role: 'probabilities' as const,
        },
      ],
      preprocessing: { layout: 'NCHW' as const, channels: 1 as const, height: 2, width: 2 },
      golden: {
        output: 'probabilities',
        tolerance: 1e-4,
        cases: [{ input: f32(input), expected: f32(expected) }],
      },
    },
  };
}

export async function eventually<T>(
  probe: () => Promise<T | undefined | false>,
  what: string,
  timeoutMs = 20_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One registered 'digits' version: the seeds of its two variants, and whether int8's golden is wrong. */
export interface DigitsVersionSpec {
  fp32Seed: number;
  int8Seed: number;
  brokenInt8Golden?: boolean;
}

export interface RolloutFleetOptions {
  ids: string[];
  /** Every device is provisioned with this tag. */
  tag: string;
  /** Versions 1, 2, … of 'digits', registered before the agents start. */
  versions: DigitsVersionSpec[];
  tmpPrefix: string;
  /** Chunks an agent requests at once. */
  requestWindowChunks: number;
  /** Reconnect backoff of the cloud's MQTT connection (its default when unset). */
  cloudBackoff?: { initialMs: number; maxMs: number };
}

export interface RolloutFleet {
  database: Database;
  identity: DeviceRegistry;
  /** The embedded broker; a test that restarts it assigns the new one here so `stop` closes it. */
  broker: EmbeddedBroker;
  connection: CloudMqttConnection;
  bridge: MqttBridge;
  artifacts: ArtifactServer;
  registry: ModelRegistry;
  service: RolloutService;
  versions: VersionRecord[];
  agents: Map<string, AgentHandle>;
  /** A new scheduler (not started); every change the service makes nudges all of them. */
  scheduler(): RolloutScheduler;
  /** The fleet's device rows, by id. */
  fleetRows(): Promise<(typeof schema.devices.$inferSelect)[]>;
  /** Stops the schedulers, the agents and the cloud, and removes the temporary directory. */
  stop(): Promise<void>;
}

export async function startRolloutFleet(
  open: () => Promise<Database>,
  options: RolloutFleetOptions,
): Promise<RolloutFleet> {
  const stops: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s();
    stops.length = 0;
  };
  try {
    const database = await open();
    stops.push(() => database.close());
    const dir = await mkdtemp(join(tmpdir(), options.tmpPrefix));
    stops.push(() => rm(dir, { recursive: true, force: true }));
    const keys = SigningKeys.generate();
    const store = new FsArtifactStore(join(dir, 'artifacts'));
    const registry = new ModelRegistry({ db: database.db, store, signer: keys });
    await registry.createModel({ name: 'digits', classes: ['a', 'b', 'c'] });
    const lineage = { datasetHash: 'd'.repeat(64), trainingParameters: {}, codeVersion: 'e2e' };
    const versions: VersionRecord[] = [];
    for (const spec of options.versions) {
      versions.push(
        await registry.registerVersion({
          model: 'digits',
          lineage,
          variants: [
            { variant: 'fp32', ...digitsVariant(spec.fp32Seed) },
            { variant: 'int8', ...digitsVariant(spec.int8Seed, { breakGolden: spec.brokenInt8Golden }) },
          ],
        }),
      );
    }

    const identity = new DeviceRegistry({
      db: database.db,
      deviceClasses: async () => new Set(PROFILES.keys()),
      cloudAccount: { username: 'edgeloop-cloud', secret: CLOUD_SECRET },
      hashIterations: 1,
    });
    const fleet = {} as RolloutFleet;
    fleet.broker = await startEmbeddedBroker({ authenticator: identity, port: 0 });
    stops.push(() => fleet.broker.close());
    const connection = await connectCloudMqtt({
      url: fleet.broker.url,
      username: 'edgeloop-cloud',
      password: CLOUD_SECRET,
      ...(options.cloudBackoff ? { backoff: options.cloudBackoff } : {}),
    });
    stops.push(() => connection.close());
    const bridge = new MqttBridge({ connection, db: database.db });
    await bridge.start();
    stops.push(() => bridge.stop());
    const artifacts = new ArtifactServer({ connection, store, db: database.db, chunkSizes: [CHUNK] });
    await artifacts.start();
    stops.push(() => artifacts.stop());
    const schedulers: RolloutScheduler[] = [];
    const service = new RolloutService({
      db: database.db,
      registry,
      profiles: async () => PROFILES,
      chunkSizes: [CHUNK],
      onChange: () => {
        for (const s of schedulers) s.nudge();
      },
    });

    const agents = new Map<string, AgentHandle>();
    stops.push(async () => {
      for (const agent of agents.values()) await agent.stop();
    });
    for (const id of options.ids) {
      const { credentials } = await identity.provisionDevice({
        id,
        deviceClass: classOf(id),
        tags: [options.tag],
      });
      const agentProfile = PROFILES.get(classOf(id)) as DeviceProfile;
      const agent = await startAgent(
        {
          deviceId: id,
          token: credentials.password,
          brokerUrl: fleet.broker.url,
          profile: agentProfile.id,
          dataDir: await mkdtemp(join(dir, `${id}-`)),
          trustedKeys: [keys.publicKey.publicKey],
          api: { host: '127.0.0.1', port: 0 },
          tuning: {
            keepaliveSeconds: 5,
            reconnect: { initialMs: 50, maxMs: 400 },
            connectTimeoutMs: 2000,
            chunkQuietMs: 300,
            requestWindowChunks: options.requestWindowChunks,
            progressIntervalMs: 0,
            maxUpdateAttempts: 2,
            retryDelayMs: 200,
          },
        },
        { profile: agentProfile },
      );
      agents.set(id, agent);
    }
    stops.push(async () => {
      for (const s of schedulers) await s.stop();
    });
    const fleetRows = async () =>
      (await database.db.select().from(schema.devices))
        .filter((r) => options.ids.includes(r.id))
        .sort((a, b) => a.id.localeCompare(b.id));
    // Every agent is online before the first rollout.
    await eventually(async () => {
      const rows = await fleetRows();
      return rows.length === options.ids.length && rows.every((r) => r.connection === 'online');
    }, 'agents online');

    return Object.assign(fleet, {
      database,
      identity,
      connection,
      bridge,
      artifacts,
      registry,
      service,
      versions,
      agents,
      scheduler: () => {
        const s = new RolloutScheduler({
          database,
          bridge,
          registry,
          tickIntervalMs: 100,
          reportDelayMs: 20,
        });
        schedulers.push(s);
        return s;
      },
      fleetRows,
      stop,
    });
  } catch (error) {
    await stop();
    throw error;
  }
}
