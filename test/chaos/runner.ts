// The seeded chaos runner: a cloud, a broker and a small fleet of real agents; a rollout per model
// version; faults drawn from the seed while telemetry flows; then, once everything had its chance to
// heal, the invariants. The same seed draws the same faults in the same order (timing on a shared
// machine still varies, so a failure is reproduced by its seed and the report, not byte for byte).
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { between, type ChaosLedger, FAULTS, type FaultContext, pick, seededRng, sleep } from './faults.ts';
import { FLEET_TAG, MODEL, prepareFleet } from './fleet-setup.ts';
import { finalInvariants, type InvariantResult, onlineInvariant } from './invariants.ts';
import { ChaosWorld } from './world.ts';

export interface ChaosOptions {
  seed: number;
  /** Faults to inject; the first FAULTS.length rounds cover every kind once, in seeded order. */
  rounds: number;
  devices?: number;
  /** Only these fault kinds (by name); default all. */
  faults?: readonly string[];
  /** Bound on the wait for the fleet to converge after the last fault. */
  settleMs?: number;
  log?: (line: string) => void;
}

export interface ChaosReport {
  seed: number;
  injected: { atMs: number; fault: string; outcome: string }[];
  invariants: InvariantResult[];
  held: boolean;
  text: string;
}

interface RolloutView {
  id: string;
  status: string;
  version: number;
}
const TERMINAL = new Set(['completed', 'aborted', 'rolled_back']);

async function until(probe: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return true;
    await sleep(250);
  }
  return false;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => undefined);
  const rng = seededRng(options.seed);
  const dir = await mkdtemp(join(tmpdir(), `edgeloop-chaos-${options.seed}-`));
  const deviceIds = Array.from(
    { length: options.devices ?? 8 },
    (_, i) => `chaos-${String(i).padStart(2, '0')}`,
  );
  const rogueId = 'chaos-rogue';
  const cloudSecret = randomBytes(18).toString('base64url');
  const adminToken = `el_${randomBytes(6).toString('hex')}_${randomBytes(32).toString('base64url')}`;
  const setup = await prepareFleet({ dataDir: join(dir, 'cloud'), deviceIds, rogueId, cloudSecret });
  const world = new ChaosWorld({
    dir,
    setup,
    cloudSecret,
    adminToken,
    deviceIds,
    smallDisk: new Set([deviceIds.at(-1) as string]),
  });
  const ledger: ChaosLedger = {
    rogueSeqs: new Set(),
    impersonatedSeqs: new Set(),
    impersonationRefusals: 0,
    impersonationAttempts: 0,
    tampered: new Set(),
    brokerGaps: [],
  };
  const started = Date.now();
  const injected: ChaosReport['injected'] = [];
  const invariants: InvariantResult[] = [];
  const rollouts: RolloutView[] = [];
  let traffic = true;
  let trafficLoop: Promise<void> = Promise.resolve();

  const startRollout = async (version: number) => {
    const view = await world.api<RolloutView>('/api/v1/rollouts', {
      method: 'POST',
      body: JSON.stringify({
        model: MODEL,
        version,
        target: { kind: 'tags', tags: [FLEET_TAG] },
        waves: [{ percent: 25 }, { percent: 100 }],
        minSoakSeconds: 0,
        deviceTimeoutSeconds: 600,
        seed: options.seed % 1000,
      }),
    });
    rollouts.push(view);
    injected.push({
      atMs: Date.now() - started,
      fault: 'rollout',
      outcome: `rollout ${view.id} to v${version}`,
    });
    log(`+${Date.now() - started}ms rollout ${view.id} → v${version}`);
  };
  const rolloutStatus = async (id: string) => (await world.api<RolloutView>(`/api/v1/rollouts/${id}`)).status;

  try {
    await world.startBroker();
    await world.startCloud();
    for (const id of deviceIds) await world.startAgent(id);
    const online = async () => (await onlineInvariant(world)).held;
    if (!(await until(online, 60_000))) throw new Error('the fleet never came online');
    trafficLoop = (async () => {
      while (traffic) {
        await world.closeWindows();
        await sleep(400);
      }
    })();
    await startRollout(setup.versions[0] as number);

    const kinds = options.faults ? FAULTS.filter((f) => options.faults?.includes(f.name)) : FAULTS;
    const order = [...kinds].sort(() => rng() - 0.5);
    const ctx: FaultContext = {
      world,
      rng,
      ledger,
      rogueId,
      targetArtifacts: () => {
        const version = rollouts.at(-1)?.version;
        const map = new Map<string, number>();
        for (const [sha, a] of setup.artifacts) if (a.version === version) map.set(sha, a.size);
        return map;
      },
    };
    for (let round = 0; round < options.rounds; round++) {
      await sleep(between(rng, 300, 1500));
      // Once a rollout finished, the next version goes out, so later faults hit a live rollout too.
      const current = rollouts.at(-1);
      const next = setup.versions[rollouts.length];
      if (
        current &&
        next !== undefined &&
        TERMINAL.has(await rolloutStatus(current.id).catch(() => 'running'))
      )
        await startRollout(next);
      const fault = round < order.length ? (order[round] as (typeof FAULTS)[number]) : pick(rng, kinds);
      const atMs = Date.now() - started;
      let outcome: string;
      try {
        outcome = await fault.inject(ctx);
      } catch (err) {
        outcome = `INJECTION FAILED: ${(err as Error).message}`;
        invariants.push({ name: `fault ${fault.name} injected and healed`, held: false, detail: outcome });
        if (!world.cloud) await world.startCloud().catch(() => undefined);
      }
      injected.push({ atMs, fault: fault.name, outcome });
      log(`+${atMs}ms ${fault.name}: ${outcome}`);
    }

    // Heal and settle: every agent running, every rollout finished, the last version out.
    world.auth.partitioned.clear();
    for (const id of deviceIds) if (!world.agents.has(id)) await world.startAgent(id);
    const settleMs = options.settleMs ?? 120_000;
    const settled = await until(async () => {
      const last = rollouts.at(-1);
      if (!last) return false;
      if (!TERMINAL.has(await rolloutStatus(last.id))) return false;
      const next = setup.versions[rollouts.length];
      if (next !== undefined) {
        await startRollout(next);
        return false;
      }
      return online();
    }, settleMs);
    log(`+${Date.now() - started}ms ${settled ? 'settled' : 'did NOT settle'}`);
    traffic = false;
    await trafficLoop;
    await world.closeWindows();
    const drained = await until(
      async () =>
        [...world.agents.values()].every((a) => a.status().connected && a.status().telemetry.entries === 0),
      60_000,
    );
    if (!drained) log('telemetry queues did not drain');
    await sleep(1500); // the ingest batches what the broker delivered
    invariants.push(await onlineInvariant(world));
    await world.stopCloud();
    invariants.push(...(await finalInvariants(world, ledger, rogueId)));
  } finally {
    traffic = false;
    await trafficLoop.catch(() => undefined);
    await world.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }

  const held = invariants.every((i) => i.held);
  const lines = [
    `chaos run, seed ${options.seed}: ${injected.filter((i) => i.fault !== 'rollout').length} faults over ${Math.round((Date.now() - started) / 1000)} s`,
    'injected:',
    ...injected.map((i) => `  +${String(i.atMs).padStart(6)} ms  ${i.fault.padEnd(20)} ${i.outcome}`),
    'invariants:',
    ...invariants.map((i) => `  ${i.held ? 'HELD  ' : 'BROKEN'} ${i.name}: ${i.detail}`),
    `result: ${held ? 'every invariant held' : 'SOME INVARIANT BROKE'} (reproduce: CHAOS_SEED=${options.seed} pnpm test:chaos)`,
  ];
  return { seed: options.seed, injected, invariants, held, text: lines.join('\n') };
}
