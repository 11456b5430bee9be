import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EdgeloopError, SignedManifest } from '@edgeloop/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ModelSlots } from './slots.ts';
import { signTestManifest, testManifest, testSigningKey } from './testing/fixtures.ts';

const key = testSigningKey();
let dir: string;
let incoming: string;

interface TestArtifact {
  path: string;
  bytes: Uint8Array;
  signed: SignedManifest;
}

/** A downloaded, verified artifact waiting to be staged (a fresh file each time: stage moves it). */
async function artifact(version: string): Promise<TestArtifact> {
  const bytes = new Uint8Array(randomBytes(3000 + Number(version)));
  const manifest = testManifest(bytes, { version });
  const path = join(incoming, `${manifest.sha256}.artifact`);
  await writeFile(path, bytes);
  return { path, bytes, signed: { manifest, signature: signTestManifest(manifest, key) } };
}

async function install(slots: ModelSlots, a: TestArtifact): Promise<void> {
  await slots.activate(await slots.stage(a.path, a.signed));
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'el-slots-'));
  incoming = join(dir, 'incoming');
  await mkdir(incoming);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ModelSlots', () => {
  it('starts empty, stages into the inactive slot and keeps the previous one for rollback', async () => {
    const slots = new ModelSlots(join(dir, 'models'));
    expect((await slots.start()).active).toBeNull();
    const v1 = await artifact('1');
    const first = await slots.stage(v1.path, v1.signed);
    expect(first).toBe('a');
    const active = await slots.activate(first);
    expect(new Uint8Array(await readFile(active.modelPath))).toEqual(v1.bytes);
    const v2 = await artifact('2');
    expect(await slots.stage(v2.path, v2.signed)).toBe('b');
    await slots.activate('b');
    expect(slots.state).toMatchObject({ active: 'b', previous: 'a', confirmed: false });
    // The third model replaces the rollback target, never the running model.
    const v3 = await artifact('3');
    expect(await slots.stage(v3.path, v3.signed)).toBe('a');
    expect(slots.state).toMatchObject({ active: 'b', previous: null });
  });

  it('rolls back to the previous slot after maxBootAttempts unconfirmed boots (CRASH_LOOP)', async () => {
    const root = join(dir, 'models');
    const slots = new ModelSlots(root, { maxBootAttempts: 3, now: () => 1234 });
    await slots.start();
    const v1 = await artifact('1');
    const v2 = await artifact('2');
    await install(slots, v1);
    await slots.markHealthy();
    await install(slots, v2); // running v2 now: boot 1
    // The process dies before v2 proves healthy, twice more.
    for (const expected of [2, 3]) {
      const boot = await new ModelSlots(root, { maxBootAttempts: 3 }).start();
      expect(boot.active?.signed.manifest.version).toBe('2');
      expect(boot.rolledBack).toBeNull();
      expect(JSON.parse(await readFile(join(root, 'slots.json'), 'utf8')).bootAttempts).toBe(expected);
    }
    const after = new ModelSlots(root, { maxBootAttempts: 3, now: () => 1234 });
    const boot = await after.start();
    expect(boot.rolledBack).toMatchObject({ code: 'CRASH_LOOP', sha256: v2.signed.manifest.sha256 });
    expect(boot.active?.signed.manifest.version).toBe('1');
    expect(boot.previous?.signed.manifest.version).toBe('2');
    expect(after.state).toMatchObject({
      active: 'a',
      previous: 'b',
      confirmed: true,
      bootAttempts: 1,
      lastRollback: { sha256: v2.signed.manifest.sha256, reason: 'CRASH_LOOP', at: 1234 },
    });
    // The restored model is not rolled back again by later boots.
    for (let i = 0; i < 5; i++) expect((await new ModelSlots(root).start()).rolledBack).toBeNull();
  });

  it('never rolls back a model confirmed healthy', async () => {
    const root = join(dir, 'models');
    const slots = new ModelSlots(root, { maxBootAttempts: 2 });
    await slots.start();
    await install(slots, await artifact('1'));
    await install(slots, await artifact('2'));
    await slots.markHealthy();
    for (let i = 0; i < 4; i++) {
      const boot = await new ModelSlots(root, { maxBootAttempts: 2 }).start();
      expect(boot.rolledBack).toBeNull();
      expect(boot.active?.signed.manifest.version).toBe('2');
    }
  });

  it('rolls back at runtime on request, and refuses with nothing to roll back to', async () => {
    const slots = new ModelSlots(join(dir, 'models'));
    await slots.start();
    await install(slots, await artifact('1'));
    const failure = await slots.rollback('GOLDEN_CHECK_FAILED', 'x').catch((err: unknown) => err);
    expect((failure as EdgeloopError).code).toBe('CONFLICT');
    await install(slots, await artifact('2'));
    const result = await slots.rollback('GOLDEN_CHECK_FAILED', 'golden mismatch');
    expect(result.active?.signed.manifest.version).toBe('1');
    expect(result.rolledBack?.code).toBe('GOLDEN_CHECK_FAILED');
    expect(slots.state).toMatchObject({ active: 'a', previous: 'b' });
  });

  it('rolls back when the active slot is damaged', async () => {
    const root = join(dir, 'models');
    const slots = new ModelSlots(root);
    await slots.start();
    await install(slots, await artifact('1'));
    await slots.markHealthy();
    await install(slots, await artifact('2'));
    await writeFile(join(root, 'slots', 'b', 'model.onnx'), 'truncated');
    const boot = await new ModelSlots(root).start();
    expect(boot.rolledBack?.code).toBe('MODEL_INVALID');
    expect(boot.active?.signed.manifest.version).toBe('1');
  });

  it('starts empty (and says so) when slots.json is damaged', async () => {
    const root = join(dir, 'models');
    const slots = new ModelSlots(root);
    await slots.start();
    await install(slots, await artifact('1'));
    await writeFile(join(root, 'slots.json'), '{"v":1,"act');
    const boot = await new ModelSlots(root).start();
    expect(boot).toMatchObject({ active: null, stateRecovered: true });
  });

  describe('power loss during a swap', () => {
    const steps = [
      'stage:previous-released',
      'stage:slot-built',
      'stage:old-slot-removed',
      'stage:slot-written',
      'activate:state-written',
    ];
    for (const [i, step] of steps.entries()) {
      it(`boots a complete model after a crash at ${step}`, async () => {
        const root = join(dir, 'models');
        const setup = new ModelSlots(root);
        await setup.start();
        await install(setup, await artifact('1'));
        const v2 = await artifact('2');
        await install(setup, v2); // active b, previous a: the next stage reuses slot a
        await setup.markHealthy();

        const v3 = await artifact('3');
        const crashing = new ModelSlots(root, {
          afterStep: (s) => {
            if (s === step) throw new Error(`power lost after ${s}`);
          },
        });
        await crashing.start();
        await expect(
          crashing.stage(v3.path, v3.signed).then((slot) => crashing.activate(slot)),
        ).rejects.toThrow();

        const boot = await new ModelSlots(root).start();
        const expected = i < steps.indexOf('activate:state-written') ? v2 : v3;
        expect(boot.active?.signed.manifest.sha256).toBe(expected.signed.manifest.sha256);
        expect(new Uint8Array(await readFile(boot.active?.modelPath ?? ''))).toEqual(expected.bytes);
        if (boot.previous) {
          // Whatever the state names as previous is complete too.
          const bytes = new Uint8Array(await readFile(boot.previous.modelPath));
          expect(bytes.length).toBe(boot.previous.signed.manifest.size);
        }
        expect((await readdir(join(root, 'slots'))).filter((n) => n.includes('.tmp-'))).toEqual([]);
      });
    }
  });
});
