// App keys end to end through the real app on real databases: the admin API, what an app key may
// and may not call, and CORS for the web SDK's routes (preflights, allowed and refused origins).
import { rm } from 'node:fs/promises';
import { modelResolutionSchema } from '@edgeloop/shared';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../db/index.ts';
import { appKeys } from '../../db/schema.ts';
import { testDatabases } from '../../db/testing.ts';
import { tempDir } from '../../pipeline/testing.ts';
import { CLASSES, registration } from '../../registry/test-fixtures.ts';
import { modelApiDeps } from '../models/testing.ts';
import { createApiFixture } from '../testing.ts';

const SHOP = 'https://shop.example.com';
const OTHER = 'https://other.example.com';
const EVIL = 'https://evil.example.net';
const RESOLVE = '/api/v1/models/pets/resolve?alias=champion&deviceClass=browser';

describe.each(testDatabases())('app keys on $name', ({ open }) => {
  let database: Database;
  let dir: string;
  let fx: Awaited<ReturnType<typeof createApiFixture>>;
  let shopKey: string;
  let artifactPath: string;

  async function createKey(body: Record<string, unknown>) {
    const res = await fx.request('POST', '/api/v1/app-keys', { body });
    expect(res.status).toBe(201);
    return res.json as { key: string; record: { id: string } };
  }

  beforeAll(async () => {
    database = await open();
    dir = await tempDir('edgeloop-app-keys-');
    const env = await modelApiDeps(database.db, dir);
    await env.registry.createModel({ name: 'pets', classes: CLASSES });
    await env.registry.registerVersion(registration('pets', 1, { aliases: ['champion'] }));
    fx = await createApiFixture(database.db, { models: env.models });
    shopKey = (await createKey({ name: 'shop', allowedOrigins: [SHOP] })).key;
    const resolved = await fx.request('GET', RESOLVE, { token: shopKey });
    artifactPath = modelResolutionSchema.parse(resolved.json).artifactUrl;
  });
  afterAll(async () => {
    await database.close();
    await rm(dir, { recursive: true, force: true });
  });

  describe('admin API', () => {
    it('creates a key shown once, stores only its hash, lists it and revokes it', async () => {
      const created = await fx.request('POST', '/api/v1/app-keys', {
        body: { name: 'kiosk', allowedOrigins: ['HTTPS://Kiosk.Example.com:443/'] },
      });
      expect(created.status).toBe(201);
      const { key, record } = created.json;
      expect(key).toMatch(/^app_[a-f0-9]{12}_[A-Za-z0-9_-]{43}$/);
      expect(record).toMatchObject({
        name: 'kiosk',
        allowedOrigins: ['https://kiosk.example.com'], // normalised as a browser sends it
        scopes: ['models:resolve', 'artifacts:read', 'keys:read', 'telemetry:write'],
        revokedAt: null,
      });
      const [row] = await database.db.select().from(appKeys).where(eq(appKeys.id, record.id));
      expect(row?.secretSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(JSON.stringify(row)).not.toContain(key.slice(-43));

      const listed = await fx.request('GET', '/api/v1/app-keys');
      expect(listed.status).toBe(200);
      expect(listed.json.items.map((k: { id: string }) => k.id)).toContain(record.id);
      expect(listed.text).not.toContain(key.slice(-43));

      expect((await fx.request('GET', RESOLVE, { token: key })).status).toBe(200);
      const revoked = await fx.request('DELETE', `/api/v1/app-keys/${record.id}`);
      expect(revoked.status).toBe(200);
      expect(revoked.json.revokedAt).not.toBeNull();
      const refused = await fx.request('GET', RESOLVE, { token: key });
      expect(refused).toMatchObject({ status: 401, json: { error: { code: 'TOKEN_REVOKED' } } });
    });

    it('needs the admin role, and refuses origins with a path and unknown scopes', async () => {
      for (const token of [fx.tokens.operator, fx.tokens.viewer]) {
        const res = await fx.request('POST', '/api/v1/app-keys', { token, body: { name: 'x' } });
        expect(res).toMatchObject({ status: 403, json: { error: { code: 'FORBIDDEN' } } });
      }
      const bad = await fx.request('POST', '/api/v1/app-keys', {
        body: { name: 'x', allowedOrigins: ['https://a.example.com/app', 'ftp://b.example.com'] },
      });
      expect(bad.status).toBe(400);
      expect(bad.json.error.details.map((d: { path: string }) => d.path)).toEqual([
        'allowedOrigins.0',
        'allowedOrigins.1',
      ]);
      const scope = await fx.request('POST', '/api/v1/app-keys', { body: { name: 'x', scopes: ['admin'] } });
      expect(scope).toMatchObject({ status: 400, json: { error: { code: 'VALIDATION_FAILED' } } });
      expect((await fx.request('DELETE', '/api/v1/app-keys/0123456789ab')).status).toBe(404);
    });
  });

  describe('what an app key opens', () => {
    it('resolves, downloads the artifact and reads the keys', async () => {
      const resolved = await fx.request('GET', RESOLVE, { token: shopKey });
      expect(resolved.status).toBe(200);
      expect(resolved.json.manifest).toMatchObject({ name: 'pets', version: '1' });
      const artifact = await fx.app.request(artifactPath, {
        headers: { authorization: `Bearer ${shopKey}` },
      });
      expect(artifact.status).toBe(200);
      expect((await artifact.arrayBuffer()).byteLength).toBe(resolved.json.manifest.size);
      expect((await fx.request('GET', '/api/v1/keys', { token: shopKey })).status).toBe(200);
    });

    it('is refused with 403 FORBIDDEN on every other route, however harmless', async () => {
      const attempts: [string, string, unknown?][] = [
        ['GET', '/api/v1/models'],
        ['GET', '/api/v1/models/pets'],
        ['PUT', '/api/v1/models/pets/aliases/champion', { version: 1 }],
        ['GET', '/api/v1/devices'],
        ['GET', '/api/v1/tokens'],
        ['GET', '/api/v1/app-keys'],
        ['POST', '/api/v1/app-keys', { name: 'escalate' }],
        ['GET', '/api/v1/metrics'],
        ['DELETE', artifactPath],
      ];
      const before = await fx.rejections('FORBIDDEN');
      for (const [method, path, body] of attempts) {
        const res = await fx.request(method, path, { token: shopKey, ...(body ? { body } : {}) });
        expect({ path, status: res.status, code: res.json?.error?.code }).toEqual({
          path,
          status: 403,
          code: 'FORBIDDEN',
        });
        expect(res.json.error.details).toMatchObject({ reason: 'APP_KEY_ROUTE' });
      }
      expect(await fx.rejections('FORBIDDEN')).toBe(before + attempts.length);
      expect(
        (await fx.request('GET', '/api/v1/app-keys')).json.items.map((k: { name: string }) => k.name),
      ).not.toContain('escalate');
    });

    it('stays within its scopes, and a garbage key gets the same answer as an unknown one', async () => {
      const { key } = await createKey({ name: 'resolve-only', scopes: ['models:resolve'] });
      expect((await fx.request('GET', RESOLVE, { token: key })).status).toBe(200);
      const denied = await fx.request('GET', artifactPath, { token: key });
      expect(denied).toMatchObject({
        status: 403,
        json: {
          error: { code: 'FORBIDDEN', details: { reason: 'APP_KEY_SCOPE', needed: 'artifacts:read' } },
        },
      });
      const forged = `${key.slice(0, -3)}AAA`;
      for (const token of [forged, 'app_0123456789ab_short', 'app_']) {
        const res = await fx.request('GET', RESOLVE, { token });
        expect(res).toMatchObject({
          status: 401,
          json: { error: { code: 'UNAUTHENTICATED', message: 'invalid app key' } },
        });
      }
    });
  });

  describe('CORS', () => {
    const preflight = (path: string, origin: string, method = 'GET') =>
      fx.app.request(path, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': method,
          'access-control-request-headers': 'authorization',
        },
      });

    it('answers a preflight from an allowed origin, for the SDK routes only', async () => {
      for (const path of [RESOLVE, artifactPath, '/api/v1/keys']) {
        const res = await preflight(path, SHOP);
        expect(res.status).toBe(204);
        expect(res.headers.get('access-control-allow-origin')).toBe(SHOP);
        expect(res.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
        expect(res.headers.get('access-control-allow-methods')).toContain('GET');
        expect(res.headers.get('vary')).toContain('Origin');
      }
      const operatorRoute = await preflight('/api/v1/devices', SHOP, 'POST');
      expect(operatorRoute.status).toBe(403);
      expect(operatorRoute.headers.get('access-control-allow-origin')).toBeNull();
      expect((await preflight(RESOLVE, SHOP, 'DELETE')).status).toBe(403);
    });

    it('gives a disallowed origin a 403 and no CORS headers, preflight or not', async () => {
      const res = await preflight(RESOLVE, EVIL);
      expect(res.status).toBe(403);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      const actual = await fx.request('GET', RESOLVE, { token: shopKey, headers: { origin: EVIL } });
      expect(actual).toMatchObject({
        status: 403,
        json: { error: { code: 'FORBIDDEN', details: { reason: 'ORIGIN_NOT_ALLOWED', origin: EVIL } } },
      });
      expect(actual.headers.get('access-control-allow-origin')).toBeNull();
    });

    it('serves an allowed origin with CORS headers, and holds each key to its own origins', async () => {
      const ok = await fx.request('GET', RESOLVE, { token: shopKey, headers: { origin: SHOP } });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('access-control-allow-origin')).toBe(SHOP);
      expect(ok.headers.get('access-control-expose-headers')).toContain('ETag');

      // OTHER is allowed by some key, so its preflight passes; the shop key still refuses it.
      await createKey({ name: 'other', allowedOrigins: [OTHER] });
      expect((await preflight(RESOLVE, OTHER)).status).toBe(204);
      const crossed = await fx.request('GET', RESOLVE, { token: shopKey, headers: { origin: OTHER } });
      expect(crossed.status).toBe(403);
      expect(crossed.headers.get('access-control-allow-origin')).toBeNull();

      // A wrong key from an allowed origin gets a readable 401, so the SDK can say why.
      const wrong = await fx.request('GET', RESOLVE, {
        token: 'app_0123456789ab_x',
        headers: { origin: SHOP },
      });
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get('access-control-allow-origin')).toBe(SHOP);

      // Same-origin calls (the cloud's own demo page) need no allowed origin, and get no CORS headers.
      const { key: demoKey } = await createKey({ name: 'demo' });
      const same = await fx.request('GET', RESOLVE, {
        token: demoKey,
        headers: { origin: 'http://localhost' },
      });
      expect(same.status).toBe(200);
      expect(same.headers.get('access-control-allow-origin')).toBeNull();
      expect((await fx.request('GET', RESOLVE, { token: demoKey, headers: { origin: SHOP } })).status).toBe(
        403,
      );
    });

    it('lets a key with * serve any origin, and never adds CORS headers to operator routes', async () => {
      const { key } = await createKey({ name: 'anywhere', allowedOrigins: ['*'] });
      const res = await fx.request('GET', RESOLVE, { token: key, headers: { origin: EVIL } });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBe(EVIL);
      const devices = await fx.request('GET', '/api/v1/devices', { headers: { origin: SHOP } });
      expect(devices.status).toBe(200);
      expect(devices.headers.get('access-control-allow-origin')).toBeNull();
    });
  });
});
