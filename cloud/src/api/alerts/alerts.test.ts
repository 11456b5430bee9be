import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../db/index.ts';
import { alerts } from '../../db/schema.ts';
import { testDatabases } from '../../db/testing.ts';
import { createApiFixture } from '../testing.ts';

const at = (minutes: number) => new Date(Date.UTC(2031, 0, 1, 12, minutes));

describe.each(testDatabases())('GET /api/v1/alerts on $name', ({ open }) => {
  let database: Database;
  let api: Awaited<ReturnType<typeof createApiFixture>>;

  beforeAll(async () => {
    database = await open();
    api = await createApiFixture(database.db);
    const alert = (key: string, kind: 'drift' | 'devices_offline', minutes: number, resolved: boolean) => ({
      key,
      kind,
      severity: kind === 'drift' ? ('warning' as const) : ('critical' as const),
      subject: kind === 'drift' ? 'model:digits' : 'device_class:pi4',
      message: `${key} message`,
      data: { n: minutes },
      openedAt: at(minutes),
      lastSeenAt: at(minutes + 1),
      resolvedAt: resolved ? at(minutes + 2) : null,
    });
    await database.db
      .insert(alerts)
      .values([
        alert('drift:a', 'drift', 1, true),
        alert('drift:a', 'drift', 10, false),
        alert('devices_offline:device_class:pi4', 'devices_offline', 5, false),
        alert('devices_offline:group:g', 'devices_offline', 3, true),
      ]);
  }, 60_000);
  afterAll(async () => {
    await database?.close();
  });

  const keys = (items: Array<{ key: string; resolvedAt: string | null }>) =>
    items.map((a) => `${a.key}${a.resolvedAt ? ' (resolved)' : ''}`);

  it('lists open alerts newest first by default, to a viewer', async () => {
    const res = await api.request('GET', '/api/v1/alerts', { token: api.tokens.viewer });
    expect(res.status).toBe(200);
    expect(keys(res.json.items)).toEqual(['drift:a', 'devices_offline:device_class:pi4']);
    expect(res.json.items[0]).toEqual({
      id: expect.any(Number),
      key: 'drift:a',
      kind: 'drift',
      severity: 'warning',
      subject: 'model:digits',
      message: 'drift:a message',
      data: { n: 10 },
      openedAt: at(10).toISOString(),
      lastSeenAt: at(11).toISOString(),
      resolvedAt: null,
    });
  });

  it('filters by state, kind and limit', async () => {
    const get = async (query: string) =>
      keys((await api.request('GET', `/api/v1/alerts?${query}`)).json.items);
    expect(await get('state=resolved')).toEqual(['devices_offline:group:g (resolved)', 'drift:a (resolved)']);
    expect(await get('state=all')).toEqual([
      'drift:a',
      'devices_offline:device_class:pi4',
      'devices_offline:group:g (resolved)',
      'drift:a (resolved)',
    ]);
    expect(await get('state=all&kind=drift')).toEqual(['drift:a', 'drift:a (resolved)']);
    expect(await get('kind=devices_offline')).toEqual(['devices_offline:device_class:pi4']);
    expect(await get('state=all&limit=1')).toEqual(['drift:a']);
  });

  it('refuses bad filters with a counted VALIDATION_FAILED naming the field, and no token with 401', async () => {
    const before = await api.rejections('VALIDATION_FAILED');
    for (const [query, field] of [
      ['state=closed', 'state'],
      ['kind=fire', 'kind'],
      ['limit=0', 'limit'],
      ['limit=abc', 'limit'],
      ['colour=red', ''],
    ] as const) {
      const res = await api.request('GET', `/api/v1/alerts?${query}`);
      expect(res.status, query).toBe(400);
      expect(res.json.error.code).toBe('VALIDATION_FAILED');
      expect(JSON.stringify(res.json.error.details), query).toContain(field);
    }
    expect(await api.rejections('VALIDATION_FAILED')).toBe(before + 5);
    expect((await api.request('GET', '/api/v1/alerts', { token: null })).status).toBe(401);
  });

  it('is described in the OpenAPI document', async () => {
    const doc = (await api.request('GET', '/openapi.json')).json;
    expect(doc.paths['/api/v1/alerts'].get.parameters.map((p: { name: string }) => p.name).sort()).toEqual([
      'kind',
      'limit',
      'state',
    ]);
    expect(doc.components.schemas.Alert).toBeDefined();
  });
});
