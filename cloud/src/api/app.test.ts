import { eq } from 'drizzle-orm';
// Health, the OpenAPI document and docs page, tokens and groups.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../db/index.ts';
import { apiTokens } from '../db/schema.ts';
import { testDatabases } from '../db/testing.ts';
import { createApiFixture } from './testing.ts';

describe.each(testDatabases())('operator API on $name', ({ open }) => {
  let database: Database;
  let fx: Awaited<ReturnType<typeof createApiFixture>>;

  beforeAll(async () => {
    database = await open();
    fx = await createApiFixture(database.db);
  });
  afterAll(async () => database.close());

  describe('health', () => {
    it('answers liveness without a token', async () => {
      const res = await fx.request('GET', '/healthz', { token: null });
      expect(res).toMatchObject({ status: 200, json: { status: 'ok' } });
    });

    it('is ready when every check passes, without a token', async () => {
      const res = await fx.request('GET', '/readyz', { token: null });
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ status: 'ready', checks: { database: { ok: true } } });
    });

    it('is not ready (503) when a dependency fails, and says which', async () => {
      const down = await createApiFixture(database.db, {
        readiness: {
          database: async () => {},
          broker: async () => {
            throw new Error('connect ECONNREFUSED 127.0.0.1:1884');
          },
        },
      });
      const res = await down.request('GET', '/readyz', { token: null });
      expect(res.status).toBe(503);
      expect(res.json).toMatchObject({
        status: 'not_ready',
        checks: {
          database: { ok: true },
          broker: { ok: false, error: expect.stringMatching(/ECONNREFUSED/) },
        },
      });
    });
  });

  describe('OpenAPI', () => {
    it('documents every route from the same schemas, with bearer security on /api', async () => {
      const res = await fx.request('GET', '/openapi.json', { token: null });
      expect(res.status).toBe(200);
      const doc = res.json;
      expect(doc.openapi).toBe('3.1.0');
      expect(Object.keys(doc.paths).sort()).toEqual([
        '/api/v1/alerts',
        '/api/v1/app-keys',
        '/api/v1/app-keys/{id}',
        '/api/v1/broker/mosquitto-files',
        '/api/v1/devices',
        '/api/v1/devices/{id}',
        '/api/v1/devices/{id}/credentials/revoke',
        '/api/v1/devices/{id}/credentials/rotate',
        '/api/v1/devices/{id}/telemetry',
        '/api/v1/drift',
        '/api/v1/drift/baselines',
        '/api/v1/fleet/summary',
        '/api/v1/fleet/timeseries',
        '/api/v1/groups',
        '/api/v1/groups/{name}',
        '/api/v1/samples',
        '/api/v1/samples/stats',
        '/api/v1/samples/{id}',
        '/api/v1/samples/{id}/image.png',
        '/api/v1/samples/{id}/label',
        '/api/v1/tags',
        '/api/v1/tokens',
        '/api/v1/tokens/{id}',
        '/healthz',
        '/readyz',
      ]);
      expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
      expect(doc.paths['/api/v1/devices'].post.security).toEqual([{ bearer: [] }]);
      expect(doc.paths['/healthz'].get.security).toBeUndefined();
      // Strict bodies show up as additionalProperties: false, so clients see it too.
      expect(doc.components.schemas.CreateDevice.additionalProperties).toBe(false);
      expect(doc.components.schemas.ErrorEnvelope).toBeDefined();
    });

    it('serves a docs page that loads nothing from elsewhere', async () => {
      const res = await fx.request('GET', '/docs', { token: null });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/text\/html/);
      expect(res.text).toContain('"/openapi.json"');
      expect(res.text).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
    });
  });

  describe('tokens', () => {
    it('issues a token once, lists it without its secret, and revokes it', async () => {
      const created = await fx.request('POST', '/api/v1/tokens', {
        body: { name: 'ci', role: 'viewer', expiresInDays: 30 },
      });
      expect(created.status).toBe(201);
      const { token, record } = created.json;
      expect(token).toMatch(/^el_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
      expect(record).toMatchObject({ name: 'ci', role: 'viewer', revokedAt: null });
      expect(new Date(record.expiresAt).getTime() - Date.now()).toBeGreaterThan(29 * 86_400_000);

      const [row] = await database.db.select().from(apiTokens).where(eqToken(record.id));
      expect(row?.secretSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(row?.secretSha256).not.toBe(token.split('_')[2]);

      expect((await fx.request('GET', '/api/v1/devices', { token })).status).toBe(200);
      const listed = await fx.request('GET', '/api/v1/tokens');
      expect(listed.text).not.toContain(token.slice(16));
      const mine = listed.json.items.find((t: { id: string }) => t.id === record.id);
      expect(mine.lastUsedAt).not.toBeNull();

      const revoked = await fx.request('DELETE', `/api/v1/tokens/${record.id}`);
      expect(revoked.json.revokedAt).not.toBeNull();
      expect((await fx.request('GET', '/api/v1/devices', { token })).json.error.code).toBe('TOKEN_REVOKED');
      expect((await fx.request('DELETE', '/api/v1/tokens/000000000000')).status).toBe(404);
    });
  });

  describe('groups and tags', () => {
    it('creates, lists with counts, updates, deletes (members stay, ungrouped)', async () => {
      const created = await fx.request('POST', '/api/v1/groups', {
        token: fx.tokens.operator,
        body: { name: 'dock', description: 'loading dock' },
      });
      expect(created.status).toBe(201);
      expect(created.json).toMatchObject({ name: 'dock', deviceCount: 0 });
      expect((await fx.request('POST', '/api/v1/groups', { body: { name: 'dock' } })).json.error.code).toBe(
        'CONFLICT',
      );

      await fx.request('POST', '/api/v1/devices', {
        body: { id: 'd-1', deviceClass: 'simulated', group: 'dock', tags: ['night', 'ir'] },
      });
      await fx.request('POST', '/api/v1/devices', {
        body: { id: 'd-2', deviceClass: 'simulated', tags: ['night'] },
      });
      const list = await fx.request('GET', '/api/v1/groups', { token: fx.tokens.viewer });
      expect(list.json.items).toContainEqual(expect.objectContaining({ name: 'dock', deviceCount: 1 }));
      const tags = await fx.request('GET', '/api/v1/tags', { token: fx.tokens.viewer });
      expect(tags.json.items).toEqual([
        { tag: 'ir', deviceCount: 1 },
        { tag: 'night', deviceCount: 2 },
      ]);

      const updated = await fx.request('PATCH', '/api/v1/groups/dock', { body: { description: 'dock B' } });
      expect(updated.json.description).toBe('dock B');
      expect((await fx.request('DELETE', '/api/v1/groups/dock')).status).toBe(204);
      expect((await fx.request('GET', '/api/v1/groups/dock')).status).toBe(404);
      expect((await fx.request('GET', '/api/v1/devices/d-1')).json.group).toBeNull();
    });
  });

  describe('metrics', () => {
    it('exposes the rejection counter to a viewer', async () => {
      await fx.request('GET', '/api/v1/devices', { token: null });
      const res = await fx.request('GET', '/api/v1/metrics', { token: fx.tokens.viewer });
      expect(res.status).toBe(200);
      expect(res.text).toMatch(/edgeloop_api_rejections_total\{code="UNAUTHENTICATED"\} [1-9]/);
    });
  });

  function eqToken(id: string) {
    return eq(apiTokens.id, id);
  }
});
