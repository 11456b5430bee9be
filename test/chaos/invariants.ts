// What must hold at the end of a chaos run, whatever was injected. Checked against the cloud's
// database (opened after the cloud has stopped: PGlite allows one process on a data dir) and against
// each agent's own view and files.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openDatabase, schema } from '@edgeloop/cloud';
import type { ChaosLedger } from './faults.ts';
import type { ChaosWorld } from './world.ts';

export interface InvariantResult {
  name: string;
  held: boolean;
  detail: string;
}

/** Checked while the cloud still runs: its API must see every device online again. */
export async function onlineInvariant(world: ChaosWorld): Promise<InvariantResult> {
  const { items } = await world.api<{ items: { id: string; status: string }[] }>('/api/v1/devices?limit=500');
  const status = new Map(items.map((d) => [d.id, d.status]));
  const notOnline = world.o.deviceIds.filter((id) => status.get(id) !== 'online');
  const disconnected = world.o.deviceIds.filter((id) => !world.agents.get(id)?.status().connected);
  return {
    name: 'every device reachable again',
    held: notOnline.length === 0 && disconnected.length === 0,
    detail:
      notOnline.length + disconnected.length === 0
        ? `${world.o.deviceIds.length}/${world.o.deviceIds.length} online in the cloud and connected`
        : `not online in the cloud: ${notOnline.map((id) => `${id}=${status.get(id)}`).join(', ') || '-'}; agents disconnected: ${disconnected.join(', ') || '-'}`,
  };
}

async function fileSha256(path: string): Promise<string | null> {
  try {
    return createHash('sha256')
      .update(await readFile(path))
      .digest('hex');
  } catch {
    return null;
  }
}

/** Checked after the cloud stopped (agents still running). */
export async function finalInvariants(
  world: ChaosWorld,
  ledger: ChaosLedger,
  rogueId: string,
): Promise<InvariantResult[]> {
  const database = await openDatabase({ dataDir: join(world.o.dir, 'cloud', 'db') });
  try {
    const windows = await database.db
      .select({
        deviceId: schema.telemetryWindows.deviceId,
        seq: schema.telemetryWindows.seq,
        dropped: schema.telemetryWindows.droppedWindows,
      })
      .from(schema.telemetryWindows);
    const stored = new Map<string, Set<number>>();
    const reportedDrops = new Map<string, number>();
    for (const w of windows) {
      const seqs = stored.get(w.deviceId) ?? new Set<number>();
      seqs.add(Number(w.seq));
      stored.set(w.deviceId, seqs);
      reportedDrops.set(w.deviceId, (reportedDrops.get(w.deviceId) ?? 0) + Number(w.dropped));
    }
    const results: InvariantResult[] = [];

    // 1. Telemetry: every window an agent closed was stored, except the ones its bounded queue dropped
    // (and said so). Windows reach the queue on disk before flushTelemetry returns, and the queues
    // are drained, so every one of them was acknowledged at some point.
    const lost: string[] = [];
    let expected = 0;
    let gapLost = 0;
    for (const id of world.o.deviceIds) {
      const mine = world.windows.get(id) ?? new Set<number>();
      expected += mine.size;
      const have = stored.get(id) ?? new Set<number>();
      const closed = world.closedAt.get(id) ?? new Map<number, number>();
      // Still queued when the broker died (a window is sent within ~2 s when connected), or sent
      // before the cloud was subscribed on the restarted in-memory broker.
      const inGap = (seq: number) =>
        ledger.brokerGaps.some(
          (g) => (closed.get(seq) ?? 0) >= g.from - 2000 && (closed.get(seq) ?? 0) <= g.to,
        );
      const missingAll = [...mine].filter((s) => !have.has(s));
      const missing = missingAll.filter((s) => !inGap(s));
      gapLost += missingAll.length - missing.length;
      const dropped = world.agents.get(id)?.status().telemetry.droppedTotal ?? 0;
      if (missing.length > dropped || missing.length > (reportedDrops.get(id) ?? 0))
        lost.push(
          `${id}: ${missing.length} missing (seq ${missing.slice(0, 6).join(',')}), dropped ${dropped}, reported ${reportedDrops.get(id) ?? 0}`,
        );
    }
    const droppedAll = world.o.deviceIds.reduce(
      (n, id) => n + (world.agents.get(id)?.status().telemetry.droppedTotal ?? 0),
      0,
    );
    results.push({
      name: 'no acknowledged telemetry lost',
      held: lost.length === 0,
      detail:
        (lost.length === 0
          ? `${expected} windows closed, all stored but ${droppedAll} dropped (and reported) by full queues`
          : lost.join('; ')) +
        (gapLost > 0
          ? `; KNOWN GAP: ${gapLost} acknowledged by the in-memory broker just restarted before the cloud resubscribed`
          : ''),
    });

    // 2. Duplicated, reordered and malformed messages: the rogue's distinct valid windows, once each.
    const rogue = stored.get(rogueId) ?? new Set<number>();
    const rogueOk = rogue.size === ledger.rogueSeqs.size && [...ledger.rogueSeqs].every((s) => rogue.has(s));
    results.push({
      name: 'duplicates stored once, malformed dropped',
      held: rogueOk,
      detail: `rogue sent ${ledger.rogueSeqs.size} distinct valid windows, ${rogue.size} stored`,
    });

    // 3. Impersonation: refused by the broker, nothing stored under the victim's name.
    const planted = windows.filter(
      (w) => ledger.impersonatedSeqs.has(Number(w.seq)) && w.deviceId !== rogueId,
    );
    results.push({
      name: 'no device speaks for another',
      held: planted.length === 0 && ledger.impersonationRefusals === ledger.impersonationAttempts,
      detail: `${ledger.impersonationAttempts} attempts, ${ledger.impersonationRefusals} connections closed by the broker, ${planted.length} windows stored under a victim`,
    });

    // 4. Models: every model an agent ever served, and the file in its active slot, is a registered
    // (signed) artifact, and the cloud's reported state agrees with the agent.
    const registered = world.o.setup.artifacts;
    const bad: string[] = [];
    for (const s of world.served)
      if (!registered.has(s.sha256)) bad.push(`${s.deviceId} served ${s.sha256} (${s.reason})`);
    const devices = await database.db.select().from(schema.devices);
    for (const id of world.o.deviceIds) {
      const model = world.agents.get(id)?.status().model ?? null;
      if (!model) continue;
      const dir = join(world.o.dir, 'agents', id, 'models');
      const slots = JSON.parse(await readFile(join(dir, 'slots.json'), 'utf8')) as { active: string | null };
      const onDisk = slots.active ? await fileSha256(join(dir, 'slots', slots.active, 'model.onnx')) : null;
      if (onDisk !== model.sha256 || !registered.has(onDisk))
        bad.push(`${id}: active slot holds ${onDisk}, agent says ${model.sha256}`);
      const reported = devices.find((d) => d.id === id)?.reported as {
        active?: { sha256?: string } | null;
      } | null;
      if (reported?.active?.sha256 !== model.sha256)
        bad.push(
          `${id}: cloud has reported ${reported?.active?.sha256 ?? 'nothing'}, agent runs ${model.sha256}`,
        );
    }
    results.push({
      name: 'no device on an unsigned or unverified model',
      held: bad.length === 0,
      detail:
        bad.length === 0
          ? `${world.served.length} activations/boots, all of registered artifacts; slots and reports agree`
          : bad.join('; '),
    });

    // 5. Rollouts: terminal, and consistent with their waves, their device rows and the agents.
    const rollouts = await database.db.select().from(schema.rollouts);
    const waves = await database.db.select().from(schema.rolloutWaves);
    const rows = await database.db.select().from(schema.rolloutDevices);
    const problems: string[] = [];
    const latest = rollouts
      .filter((r) => r.kind === 'rollout')
      .sort((a, b) => +a.createdAt - +b.createdAt)
      .at(-1);
    for (const r of rollouts) {
      const mine = waves.filter((w) => w.rolloutId === r.id).sort((a, b) => a.index - b.index);
      const devs = rows.filter((d) => d.rolloutId === r.id && d.state !== 'excluded');
      if (r.status !== 'completed') {
        const states = countStates(devs.map((d) => d.state));
        const waveStates = mine.map((w) => w.status).join(',');
        problems.push(`${r.id} ${r.status} (${r.reason}); waves ${waveStates}; devices ${states}`);
        for (const d of devs.filter((d) => d.state !== 'active')) {
          const agent = world.agents.get(d.deviceId)?.status();
          problems.push(
            `  ${d.deviceId}: rollout says ${d.state}, agent runs ${agent?.model?.sha256?.slice(0, 12) ?? 'nothing'} (rollout gave ${d.sha256?.slice(0, 12)})`,
          );
        }
      }
      if (r.status === 'completed') {
        if (!mine.every((w) => w.status === 'passed'))
          problems.push(`${r.id} completed with waves ${mine.map((w) => w.status)}`);
        const notActive = devs.filter(
          (d) => d.state !== 'active' && !(d.state === 'timed_out' && r.id !== latest?.id),
        );
        if (notActive.length > 0)
          problems.push(`${r.id} completed with ${notActive.map((d) => `${d.deviceId}=${d.state}`)}`);
      }
      if (r.id === latest?.id && r.status === 'completed') {
        for (const d of devs) {
          const runs = world.agents.get(d.deviceId)?.status().model?.sha256;
          if (runs !== d.sha256)
            problems.push(
              `${d.deviceId} runs ${runs?.slice(0, 12)}, rollout ${r.id} gave it ${d.sha256?.slice(0, 12)}`,
            );
        }
      }
    }
    results.push({
      name: 'every rollout in a consistent terminal state',
      held: problems.length === 0 && rollouts.length > 0,
      detail:
        problems.length === 0
          ? `${rollouts.length} rollout(s) completed; every device runs what the last one sent`
          : problems.join('; '),
    });
    return results;
  } finally {
    await database.close();
  }
}

function countStates(states: string[]): string {
  const counts = new Map<string, number>();
  for (const s of states) counts.set(s, (counts.get(s) ?? 0) + 1);
  return [...counts].map(([s, n]) => `${s}=${n}`).join(' ');
}
