import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../db/index.ts';
import { devices, events } from '../../db/schema.ts';
import { testDatabases } from '../../db/testing.ts';
import { createApiFixture, seedGroup, setConnection } from '../testing.ts';

describe.each(testDatabases())('devices API on $name', ({ open }) => {
  let database: Database;
  let fx: Awaited<ReturnType<typeof createApiFixture>>;

  beforeAll(async () => {
    database = await open();
    fx = await createApiFixture(database.db);
    await seedGroup(database.db, 'line-1');
    await seedGroup(database.db, 'line-2');
    // 25 devices: cam-00..cam-24; even ones on line-1, every third tagged "night", five classes apart.
    for (let i = 0; i < 25; i++) {
      const id = `cam-${String(i).padStart(2, '0')}`;
      const res = await fx.request('POST', '/api/v1/devices', {
        token: fx.tokens.operator,
        body: {
          id,
          deviceClass: i % 5 === 0 ? 'raspberry-pi-4' : 'simulated',
          group: i % 2 === 0 ? 'line-1' : 'line-2',
          tags: i % 3 === 0 ? ['night', 'site:berlin'] : ['site:berlin'],
        },
      });
      expect(res.status).toBe(201);
    }
    await setConnection(database.db, 'cam-03', 'online');
  });
  afterAll(async () => database.close());

  describe('POST /api/v1/devices', () => {
    it('assigns an id when none is given', async () => {
      const res = await fx.request('POST', '/api/v1/devices', { body: { deviceClass: 'simulated' } });
      expect(res.status).toBe(201);
      expect(res.json.device.id).toMatch(/^dev-[a-z2-7]{12}$/);
      expect(res.json.credentials.username).toBe(res.json.device.id);
    });

    it('provisions a device and returns its credentials once', async () => {
      const res = await fx.request('POST', '/api/v1/devices', {
        token: fx.tokens.operator,
        body: { id: 'gate-1', deviceClass: 'simulated', displayName: 'Gate 1' },
      });
      expect(res.status).toBe(201);
      expect(res.json.device).toMatchObject({
        id: 'gate-1',
        deviceClass: 'simulated',
        group: null,
        tags: [],
        displayName: 'Gate 1',
        status: 'unknown',
        lastSeenAt: null,
        activeModel: null,
        reported: null,
      });
      expect(res.json.credentials).toMatchObject({
        deviceId: 'gate-1',
        username: 'gate-1',
        password: expect.any(String),
        brokerUrls: { tcp: 'mqtt://127.0.0.1:1884' },
      });
      const shown = await fx.request('GET', '/api/v1/devices/gate-1', { token: fx.tokens.viewer });
      expect(shown.text).not.toContain(res.json.credentials.password);
    });
  });

  describe('GET /api/v1/devices', () => {
    const list = async (query: string) => {
      const res = await fx.request('GET', `/api/v1/devices${query}`, { token: fx.tokens.viewer });
      expect(res.status).toBe(200);
      return res.json as { items: { id: string }[]; total: number; nextCursor: string | null };
    };

    it('pages through every device by cursor, in id order, without repeats', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page: Awaited<ReturnType<typeof list>> = await list(
          `?group=line-1&limit=4${cursor ? `&cursor=${cursor}` : ''}`,
        );
        expect(page.total).toBe(13);
        seen.push(...page.items.map((d) => d.id));
        cursor = page.nextCursor;
        pages++;
      } while (cursor);
      expect(pages).toBe(4);
      expect(seen).toEqual([...seen].sort());
      expect(new Set(seen).size).toBe(13);
    });

    it('supports offset pagination', async () => {
      const page = await list('?limit=3&offset=3');
      expect(page.items.map((d) => d.id)).toEqual(['cam-03', 'cam-04', 'cam-05']);
    });

    it('filters by tag, class and status, combined', async () => {
      expect((await list('?tag=night')).total).toBe(9);
      expect((await list('?class=raspberry-pi-4')).items.map((d) => d.id)).toEqual([
        'cam-00',
        'cam-05',
        'cam-10',
        'cam-15',
        'cam-20',
      ]);
      expect((await list('?tag=night&class=raspberry-pi-4')).items.map((d) => d.id)).toEqual([
        'cam-00',
        'cam-15',
      ]);
      expect((await list('?status=online')).items.map((d) => d.id)).toEqual(['cam-03']);
      expect((await list('?group=line-2&tag=nope')).items).toEqual([]);
    });
  });

  describe('GET /api/v1/devices/{id}', () => {
    it('shows reported state, last seen and the active model', async () => {
      const reported = {
        v: 1,
        generation: 3,
        rolloutId: null,
        active: { name: 'digits', version: '2', variant: 'int8', sha256: 'a'.repeat(64) },
        previous: null,
        phase: { state: 'active', sha256: 'a'.repeat(64) },
        at: 1_900_000_000_000,
      };
      await database.db.update(devices).set({ reported, agentVersion: '0.1.0' }).where(eqId('cam-07'));
      const res = await fx.request('GET', '/api/v1/devices/cam-07', { token: fx.tokens.viewer });
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({
        id: 'cam-07',
        activeModel: reported.active,
        reported,
        agentVersion: '0.1.0',
      });
    });

    it('ignores a stored reported state that no longer matches the contract', async () => {
      await database.db
        .update(devices)
        .set({ reported: { v: 99 } })
        .where(eqId('cam-08'));
      const res = await fx.request('GET', '/api/v1/devices/cam-08', { token: fx.tokens.viewer });
      expect(res.json.activeModel).toBeNull();
    });

    it('404s for an unknown device', async () => {
      const res = await fx.request('GET', '/api/v1/devices/ghost', { token: fx.tokens.viewer });
      expect(res.status).toBe(404);
      expect(res.json.error.code).toBe('NOT_FOUND');
    });
  });

  describe('PATCH and DELETE /api/v1/devices/{id}', () => {
    it('updates group, tags and display name; null ungroups', async () => {
      const res = await fx.request('PATCH', '/api/v1/devices/cam-01', {
        token: fx.tokens.operator,
        body: { group: 'line-1', tags: ['moved'], displayName: 'Cam one' },
      });
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ group: 'line-1', tags: ['moved'], displayName: 'Cam one' });
      const ungrouped = await fx.request('PATCH', '/api/v1/devices/cam-01', {
        token: fx.tokens.operator,
        body: { group: null },
      });
      expect(ungrouped.json).toMatchObject({ group: null, tags: ['moved'] });
    });

    it('refuses an empty update', async () => {
      const res = await fx.request('PATCH', '/api/v1/devices/cam-01', {
        token: fx.tokens.operator,
        body: {},
      });
      expect(res.status).toBe(400);
    });

    it('deletes a device after revoking its credentials', async () => {
      const res = await fx.request('DELETE', '/api/v1/devices/cam-24', { token: fx.tokens.operator });
      expect(res.status).toBe(204);
      const audit = await database.db.select().from(events).where(eq(events.subject, 'device:cam-24'));
      expect(audit.map((e) => e.kind)).toContain('device.credentials_revoked');
      expect(audit.find((e) => e.kind === 'device.credentials_revoked')?.actor).toMatch(
        /^token:[a-z0-9]{12}$/,
      );
      expect((await fx.request('GET', '/api/v1/devices/cam-24')).status).toBe(404);
      expect((await fx.request('DELETE', '/api/v1/devices/cam-24')).status).toBe(404);
    });
  });

  describe('device credentials', () => {
    it('rotates: new secret each time', async () => {
      const a = await fx.request('POST', '/api/v1/devices/cam-02/credentials/rotate', {
        token: fx.tokens.operator,
      });
      const b = await fx.request('POST', '/api/v1/devices/cam-02/credentials/rotate', {
        token: fx.tokens.operator,
      });
      expect(a.status).toBe(200);
      expect(a.json).toMatchObject({ deviceId: 'cam-02', username: 'cam-02' });
      expect(a.json.password).not.toBe(b.json.password);
    });

    it('revokes', async () => {
      const res = await fx.request('POST', '/api/v1/devices/cam-02/credentials/revoke', {
        token: fx.tokens.operator,
      });
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ deviceId: 'cam-02', revoked: true });
      const missing = await fx.request('POST', '/api/v1/devices/ghost/credentials/revoke');
      expect(missing.status).toBe(404);
    });
  });

  function eqId(id: string) {
    return eq(devices.id, id);
  }
});
