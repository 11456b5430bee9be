// The faults a chaos run draws from. Each one does its damage, heals what a real incident would heal
// (a restarted process, a returning device) and records what it did, for the report and for the
// invariants that check what must have held despite it.
import { randomBytes } from 'node:crypto';
import { CLOUD_USERNAME } from '@edgeloop/cloud';
import { encodeArtifactChunk, telemetryWindowPayload, topics } from '@edgeloop/shared';
import mqtt from 'mqtt';
import type { ChaosWorld } from './world.ts';

export type Rng = () => number;

/** mulberry32: small, seedable, good enough to choose faults. */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
export const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)] as T;
export const between = (rng: Rng, min: number, max: number) => Math.round(min + rng() * (max - min));
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the faults left for the invariants to check. */
export interface ChaosLedger {
  /** Distinct valid windows the rogue device got acknowledged (its own topic). */
  rogueSeqs: Set<number>;
  /** Sequence numbers the rogue device tried to publish as other devices. */
  impersonatedSeqs: Set<number>;
  /** Times the broker cut the rogue device off for publishing outside its own topics. */
  impersonationRefusals: number;
  impersonationAttempts: number;
  /** The sha256s whose chunks were tampered with / which forged manifests named. */
  tampered: Set<string>;
  /**
   * From a broker going down until the cloud is subscribed on the restarted one. The embedded broker
   * keeps sessions in memory: windows it acknowledged in such a gap had no subscriber (known gap).
   */
  brokerGaps: { from: number; to: number }[];
}

export interface FaultContext {
  world: ChaosWorld;
  rng: Rng;
  ledger: ChaosLedger;
  rogueId: string;
  /** sha256 → size of the artifacts the current rollout sends. */
  targetArtifacts: () => Map<string, number>;
}

export interface Fault {
  name: string;
  /** Does the damage and heals; returns a line for the report. */
  inject(ctx: FaultContext): Promise<string>;
}

const CHUNK = 65_536;

async function connectAs(ctx: FaultContext, username: string, clientId: string) {
  const account = ctx.world.auth.accounts.get(username);
  return mqtt.connectAsync(ctx.world.brokerUrl, {
    clientId,
    username,
    password: account?.password,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 5000,
  });
}

function rogueWindow(ctx: FaultContext, deviceId: string, seq: number): Buffer | null {
  const template = ctx.world.lastWindow;
  if (!template) return null;
  return Buffer.from(telemetryWindowPayload.encode({ ...template, deviceId, seq, droppedWindows: 0 }));
}

export const FAULTS: readonly Fault[] = [
  {
    name: 'broker-restart',
    async inject({ world, rng, ledger }) {
      const downMs = between(rng, 200, 2000);
      const from = Date.now();
      await world.broker.close(); // in memory: sessions and retained messages are gone
      await sleep(downMs);
      await world.startBroker();
      const cloudBack = async () => {
        for (let i = 0; i < 240; i++) {
          if ([...world.broker.connectedClients().values()].some((p) => p.kind === 'cloud')) return true;
          await sleep(125);
        }
        return false;
      };
      const back = await cloudBack();
      ledger.brokerGaps.push({ from, to: Date.now() + 500 });
      return `broker down ${downMs} ms, restarted on the same port; cloud ${back ? `back after ${Date.now() - from} ms` : 'NOT back within 30 s'}`;
    },
  },
  {
    name: 'cloud-restart',
    async inject({ world, rng }) {
      const downMs = between(rng, 200, 2000);
      await world.stopCloud(); // closes PGlite too: the embedded database restarts with it
      await sleep(downMs);
      await world.startCloud();
      return `cloud + embedded database down ${downMs} ms, restarted on the same data dir`;
    },
  },
  {
    name: 'agent-kill',
    async inject({ world, rng }) {
      const running = [...world.agents.keys()];
      if (running.length === 0) return 'no agent running';
      const id = pick(rng, running);
      const phase = world.agents.get(id)?.status().phase;
      const downMs = between(rng, 100, 3000);
      await world.killAgent(id);
      await sleep(downMs);
      await world.startAgent(id);
      return `${id} killed (non-graceful) in phase ${JSON.stringify(phase)}, back after ${downMs} ms`;
    },
  },
  {
    name: 'rogue-telemetry',
    async inject(ctx) {
      const { ledger, rng, rogueId } = ctx;
      const client = await connectAs(ctx, rogueId, rogueId);
      const base = 1000 + Math.floor(rng() * 100_000);
      const seqs = [base, base + 2, base + 1, base, base + 2, base]; // reordered, with duplicates
      const junk = [
        randomBytes(between(rng, 1, 300)),
        Buffer.from('{"v":99,"deviceId":"x"}'),
        Buffer.from('{"v":1,"deviceId":'),
        Buffer.from(JSON.stringify({ v: 1, deviceId: rogueId, seq: -5 })),
      ];
      try {
        for (const seq of seqs) {
          const payload = rogueWindow(ctx, rogueId, seq);
          if (!payload) continue;
          await client.publishAsync(topics.telemetry(rogueId), payload, { qos: 1 });
          ledger.rogueSeqs.add(seq);
        }
        for (const bytes of junk) await client.publishAsync(topics.telemetry(rogueId), bytes, { qos: 1 });
      } finally {
        await client.endAsync(true);
      }
      return `rogue ${rogueId}: seqs ${seqs.join(',')} (3 distinct) + ${junk.length} malformed payloads`;
    },
  },
  {
    name: 'impersonation',
    async inject(ctx) {
      const { ledger, rng, rogueId, world } = ctx;
      const victim = pick(rng, world.o.deviceIds);
      const seq = 900_000 + ledger.impersonatedSeqs.size;
      const payload = rogueWindow(ctx, victim, seq);
      if (!payload) return 'no telemetry template yet';
      const client = await connectAs(ctx, rogueId, rogueId);
      ledger.impersonatedSeqs.add(seq);
      ledger.impersonationAttempts++;
      const closed = new Promise<boolean>((resolve) => {
        client.once('close', () => resolve(true));
        setTimeout(() => resolve(false), 3000);
      });
      client.publish(topics.telemetry(victim), payload, { qos: 1 }, () => undefined);
      client.publish(topics.status(victim), '{"v":1,"state":"offline"}', { qos: 1, retain: true });
      const refused = await closed;
      if (refused) ledger.impersonationRefusals++;
      await client.endAsync(true).catch(() => undefined);
      return `${rogueId} published telemetry seq ${seq} and an offline status as ${victim}: ${refused ? 'connection closed by the broker' : 'NOT refused'}`;
    },
  },
  {
    name: 'tampered-chunks',
    async inject(ctx) {
      const { rng, ledger } = ctx;
      const targets = [...ctx.targetArtifacts()];
      if (targets.length === 0) return 'no rollout artifacts to tamper with';
      // A compromised broker or a MITM: well-formed frames (their own CRC matches) of wrong bytes.
      const client = await connectAs(ctx, CLOUD_USERNAME, `chaos-mitm-${randomBytes(3).toString('hex')}`);
      const forMs = between(rng, 1000, 4000);
      const until = Date.now() + forMs;
      let frames = 0;
      try {
        while (Date.now() < until) {
          for (const [sha256, size] of targets) {
            ledger.tampered.add(sha256);
            const total = Math.ceil(size / CHUNK);
            const index = Math.floor(rng() * total);
            const length = index === total - 1 ? size - index * CHUNK : CHUNK;
            const frame = encodeArtifactChunk({
              sha256,
              index,
              total,
              chunkSize: CHUNK,
              payload: randomBytes(length),
            });
            await client.publishAsync(topics.artifactChunk(sha256, index), Buffer.from(frame), {
              qos: 1,
            });
            frames++;
          }
          await sleep(100);
        }
      } finally {
        await client.endAsync(true);
      }
      return `${frames} corrupt chunk frames (valid CRC, wrong bytes) over ${forMs} ms for ${targets.length} artifact(s)`;
    },
  },
  {
    name: 'forged-manifest',
    async inject(ctx) {
      const { world, rng, ledger } = ctx;
      const victim = pick(rng, world.o.deviceIds);
      const client = await connectAs(ctx, CLOUD_USERNAME, `chaos-forger-${randomBytes(3).toString('hex')}`);
      try {
        const retained = new Promise<Buffer | null>((resolve) => {
          client.on('message', (_topic, payload) => resolve(payload.length > 0 ? payload : null));
          setTimeout(() => resolve(null), 1500);
        });
        await client.subscribeAsync(topics.desired(victim), { qos: 1 });
        const genuine = await retained;
        if (!genuine) return `${victim} has no retained desired state to forge from`;
        const desired = JSON.parse(genuine.toString('utf8'));
        if (!desired.model) return `${victim}'s desired state names no model`;
        // Point the signed manifest at another artifact (a different registered one, or random bytes).
        const other = [...world.o.setup.artifacts.keys()].filter((s) => s !== desired.model.manifest.sha256);
        const sha256 = rng() < 0.5 && other.length > 0 ? pick(rng, other) : randomBytes(32).toString('hex');
        ledger.tampered.add(sha256);
        desired.model.manifest.sha256 = sha256;
        // Ahead of the cloud's own generations: the device's refusal must not fail its rollout.
        desired.generation += 1000 + between(rng, 0, 1000);
        await client.publishAsync(topics.desired(victim), JSON.stringify(desired), { qos: 1 });
        return `forged desired state for ${victim}: generation ${desired.generation}, manifest re-pointed at ${sha256.slice(0, 12)}…, original signature`;
      } finally {
        await client.endAsync(true);
      }
    },
  },
  {
    name: 'partition-full-disk',
    async inject({ world, rng }) {
      const id = pick(rng, [...world.o.smallDisk]);
      if (!world.agents.has(id)) return `${id} is not running`;
      const forMs = between(rng, 2000, 4000);
      world.auth.partitioned.add(id);
      world.broker.disconnectDevice(id);
      // Windows keep closing into a queue bounded to a few of them: the oldest are dropped.
      const until = Date.now() + forMs;
      while (Date.now() < until) {
        await world.closeWindows(id);
        await sleep(100);
      }
      world.auth.partitioned.delete(id);
      const stats = world.agents.get(id)?.status().telemetry;
      return `${id} (telemetry queue bound 4 KiB) cut off for ${forMs} ms; dropped so far ${stats?.droppedTotal ?? '?'}`;
    },
  },
];
