import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../db/index.ts';
import { deviceCredentials, events } from '../db/schema.ts';
import { testDatabases } from '../db/testing.ts';
import { DeviceRegistry, firmwareDeviceClasses } from './device-registry.ts';
import { verifySecret } from './secret-hash.ts';

const CLOUD_SECRET = 'cloud-secret-0123456789';

describe.each(testDatabases())('DeviceRegistry on $name', ({ open }) => {
  let handle: Database;
  let registry: DeviceRegistry;
  let clock = 1_000_000;

  beforeAll(async () => {
    handle = await open();
    registry = new DeviceRegistry({
      db: handle.db,
      deviceClasses: firmwareDeviceClasses(),
      cloudAccount: { secret: CLOUD_SECRET },
      now: () => clock,
    });
  });
  afterAll(() => handle?.close());

  it('provisions a device with one-time credentials, storing only a $7$ hash', async () => {
    const { device, credentials } = await registry.provisionDevice({
      id: 'cam-1',
      group: 'line-a',
      tags: ['site=berlin'],
      deviceClass: 'raspberry-pi-4',
      displayName: 'Camera 1',
    });
    expect(device).toMatchObject({
      id: 'cam-1',
      group: 'line-a',
      tags: ['site=berlin'],
      deviceClass: 'raspberry-pi-4',
    });
    expect(credentials.username).toBe('cam-1');
    expect(credentials.password.length).toBeGreaterThanOrEqual(43);
    const rows = await handle.db
      .select()
      .from(deviceCredentials)
      .where(eq(deviceCredentials.deviceId, 'cam-1'));
    expect(rows).toHaveLength(1);
    expect(rows[0]?.secretHash).toMatch(/^\$7\$/);
    expect(rows[0]?.secretHash).not.toContain(credentials.password);
    expect(await verifySecret(credentials.password, rows[0]?.secretHash ?? '')).toBe(true);
    const audit = await handle.db.select().from(events).where(eq(events.subject, 'device:cam-1'));
    expect(audit.map((e) => e.kind)).toContain('device.provisioned');
  });

  it('generates an id when none is given', async () => {
    const { device } = await registry.provisionDevice({ deviceClass: 'simulated' });
    expect(device.id).toMatch(/^dev-[a-z2-7]{12}$/);
    expect(device.group).toBeNull();
  });

  it('refuses duplicates, unknown classes, bad ids and the cloud account name', async () => {
    await registry.provisionDevice({ id: 'dup-1', deviceClass: 'simulated' });
    await expect(registry.provisionDevice({ id: 'dup-1', deviceClass: 'simulated' })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    await expect(registry.provisionDevice({ id: 'x-1', deviceClass: 'toaster' })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringMatching(/toaster.*raspberry-pi-4/),
    });
    await expect(registry.provisionDevice({ id: 'Bad/Id', deviceClass: 'simulated' })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    await expect(
      registry.provisionDevice({ id: 'edgeloop-cloud', deviceClass: 'simulated' }),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await registry.getDevice('x-1')).toBeUndefined();
  });

  it('authenticates devices and the cloud account, and refuses everything else with a reason', async () => {
    const { credentials } = await registry.provisionDevice({ id: 'auth-1', deviceClass: 'simulated' });
    expect(await registry.authenticate('auth-1', credentials.password)).toEqual({
      ok: true,
      principal: { kind: 'device', deviceId: 'auth-1' },
    });
    expect(await registry.authenticate('edgeloop-cloud', CLOUD_SECRET)).toEqual({
      ok: true,
      principal: { kind: 'cloud', username: 'edgeloop-cloud' },
    });
    for (const [user, pass] of [
      ['auth-1', 'wrong'],
      ['auth-1', ''],
      [undefined, 'x'],
      ['nobody', credentials.password],
      ['edgeloop-cloud', 'nope'],
      ['../etc', 'x'],
    ] as const) {
      expect(await registry.authenticate(user, pass), `${user}`).toMatchObject({
        ok: false,
        code: 'UNAUTHENTICATED',
      });
    }
  });

  it('revokes at once, even with a cached verdict, and says so to the holder of the old secret', async () => {
    const { credentials } = await registry.provisionDevice({ id: 'rev-1', deviceClass: 'simulated' });
    const heard: string[] = [];
    const stop = registry.onRevoked((id) => heard.push(id));
    expect((await registry.authenticate('rev-1', credentials.password)).ok).toBe(true); // now cached
    expect(await registry.revokeCredentials('rev-1')).toEqual({ revoked: 1 });
    expect(heard).toEqual(['rev-1']);
    expect(await registry.authenticate('rev-1', credentials.password)).toMatchObject({
      ok: false,
      code: 'TOKEN_REVOKED',
    });
    expect(await registry.revokeCredentials('rev-1')).toEqual({ revoked: 0 });
    await expect(registry.revokeCredentials('ghost')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    stop();
  });

  it('rotates: the new secret works, the old one is revoked', async () => {
    const { credentials: old } = await registry.provisionDevice({ id: 'rot-1', deviceClass: 'simulated' });
    expect((await registry.authenticate('rot-1', old.password)).ok).toBe(true);
    const fresh = await registry.rotateCredentials('rot-1');
    expect(fresh.password).not.toBe(old.password);
    expect((await registry.authenticate('rot-1', fresh.password)).ok).toBe(true);
    expect(await registry.authenticate('rot-1', old.password)).toMatchObject({ code: 'TOKEN_REVOKED' });
    await expect(registry.rotateCredentials('ghost')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('caches verdicts for the TTL, so repeated logins skip PBKDF2', async () => {
    const slow = new DeviceRegistry({
      db: handle.db,
      deviceClasses: firmwareDeviceClasses(),
      cloudAccount: { secret: CLOUD_SECRET },
      hashIterations: 50_000,
      authCacheTtlMs: 10_000,
      now: () => clock,
    });
    const { credentials } = await slow.provisionDevice({ id: 'cache-1', deviceClass: 'simulated' });
    let t = performance.now();
    expect((await slow.authenticate('cache-1', credentials.password)).ok).toBe(true);
    const cold = performance.now() - t;
    t = performance.now();
    expect((await slow.authenticate('cache-1', credentials.password)).ok).toBe(true);
    const warm = performance.now() - t;
    expect(warm).toBeLessThan(cold / 5);
    clock += 10_001; // past the TTL the verdict is recomputed (and still right)
    expect((await slow.authenticate('cache-1', credentials.password)).ok).toBe(true);
  });

  it('exports active hashes and the cloud account for a Mosquitto password file', async () => {
    const entries = await registry.passwordEntries();
    const names = entries.map((e) => e.username);
    expect(names[0]).toBe('edgeloop-cloud');
    expect(names).toContain('auth-1');
    expect(names).toContain('rot-1');
    expect(names).not.toContain('rev-1');
    expect(new Set(names).size).toBe(names.length);
    expect(await verifySecret(CLOUD_SECRET, entries[0]?.secretHash ?? '')).toBe(true);
  });

  it('refuses a short cloud secret at construction', () => {
    expect(
      () =>
        new DeviceRegistry({
          db: handle.db,
          deviceClasses: firmwareDeviceClasses(),
          cloudAccount: { secret: 'short' },
        }),
    ).toThrow(/16/);
  });
});
