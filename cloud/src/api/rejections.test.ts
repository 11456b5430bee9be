// Bad input and attacks: every case gets a clear rejection in the error envelope with its stable
// code, is counted and logged, and changes nothing in the database.
import { errorEnvelopeSchema } from '@edgeloop/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../db/index.ts';
import { testDatabases } from '../db/testing.ts';
import { createApiFixture, type RequestOptions, seedGroup, snapshotDatabase } from './testing.ts';

describe.each(testDatabases())('rejections on $name', ({ open }) => {
  let database: Database;
  let fx: Awaited<ReturnType<typeof createApiFixture>>;

  beforeAll(async () => {
    database = await open();
    fx = await createApiFixture(database.db);
    await seedGroup(database.db, 'line-1');
    const created = await fx.request('POST', '/api/v1/devices', {
      body: { id: 'cam-1', deviceClass: 'simulated', group: 'line-1', tags: ['a'] },
    });
    expect(created.status).toBe(201);
  });
  afterAll(async () => database.close());

  type Case = { name: string; method: string; path: string; status: number; code: string } & RequestOptions;

  // Cases are built twice: at collection (for their names, before any token exists) and in the test.
  const token = () => fx?.tokens ?? { admin: '', operator: '', viewer: '' };

  const cases: (() => Case)[] = [
    () => ({
      name: 'malformed JSON',
      method: 'POST',
      path: '/api/v1/devices',
      raw: '{"id": "cam-2", ',
      headers: { 'content-type': 'application/json' },
      status: 400,
      code: 'MALFORMED_JSON',
    }),
    () => ({
      name: 'a body that is not JSON at all (text/plain)',
      method: 'PATCH',
      path: '/api/v1/devices/cam-1',
      raw: 'displayName=evil',
      headers: { 'content-type': 'text/plain' },
      status: 400,
      code: 'MALFORMED_JSON',
    }),
    () => ({
      name: 'wrong types',
      method: 'POST',
      path: '/api/v1/devices',
      body: { id: 42, deviceClass: ['simulated'], tags: 'a' },
      status: 400,
      code: 'VALIDATION_FAILED',
    }),
    () => ({
      name: 'a device id that would break MQTT topics',
      method: 'POST',
      path: '/api/v1/devices',
      body: { id: 'cam/+/#', deviceClass: 'simulated' },
      status: 400,
      code: 'VALIDATION_FAILED',
    }),
    () => ({
      name: 'unknown fields in a create body',
      method: 'POST',
      path: '/api/v1/devices',
      body: { id: 'cam-2', deviceClass: 'simulated', role: 'admin' },
      status: 400,
      code: 'VALIDATION_FAILED',
    }),
    () => ({
      name: 'unknown fields in an update body',
      method: 'PATCH',
      path: '/api/v1/devices/cam-1',
      body: { displayName: 'x', connection: 'online' },
      status: 400,
      code: 'VALIDATION_FAILED',
    }),
    () => ({
      name: 'an unknown device class',
      method: 'POST',
      path: '/api/v1/devices',
      body: { id: 'cam-2', deviceClass: 'toaster' },
      status: 400,
      code: 'VALIDATION_FAILED',
    }),
    () => ({
      name: 'a group that does not exist',
      method: 'PATCH',
      path: '/api/v1/devices/cam-1',
      body: { group: 'nowhere' },
      status: 400,
      code: 'VALIDATION_FAILED',
    }),
    () => ({
      name: 'an oversized body (declared length)',
      method: 'POST',
      path: '/api/v1/devices',
      body: { id: 'cam-2', deviceClass: 'simulated', displayName: 'x'.repeat(20_000) },
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
    }),
    () => ({
      name: 'a duplicate device id',
      method: 'POST',
      path: '/api/v1/devices',
      body: { id: 'cam-1', deviceClass: 'simulated' },
      status: 409,
      code: 'CONFLICT',
    }),
    () => ({
      name: 'no token',
      method: 'DELETE',
      path: '/api/v1/devices/cam-1',
      token: null,
      status: 401,
      code: 'UNAUTHENTICATED',
    }),
    () => ({
      name: 'a token that is not a token',
      method: 'DELETE',
      path: '/api/v1/devices/cam-1',
      token: 'hunter2',
      status: 401,
      code: 'UNAUTHENTICATED',
    }),
    () => ({
      name: 'a well-formed token with a wrong secret',
      method: 'DELETE',
      path: '/api/v1/devices/cam-1',
      token: `${token().admin.slice(0, 16)}${'A'.repeat(43)}`,
      status: 401,
      code: 'UNAUTHENTICATED',
    }),
    () => ({
      name: 'basic auth instead of bearer',
      method: 'DELETE',
      path: '/api/v1/devices/cam-1',
      token: null,
      headers: { authorization: 'Basic YWRtaW46YWRtaW4=' },
      status: 401,
      code: 'UNAUTHENTICATED',
    }),
    () => ({
      name: 'a viewer trying to write',
      method: 'PATCH',
      path: '/api/v1/devices/cam-1',
      token: token().viewer,
      body: { displayName: 'pwned' },
      status: 403,
      code: 'FORBIDDEN',
    }),
    () => ({
      name: 'a viewer trying to delete',
      method: 'DELETE',
      path: '/api/v1/devices/cam-1',
      token: token().viewer,
      status: 403,
      code: 'FORBIDDEN',
    }),
    () => ({
      name: 'an operator trying to issue a token',
      method: 'POST',
      path: '/api/v1/tokens',
      token: token().operator,
      body: { name: 'escalate', role: 'admin' },
      status: 403,
      code: 'FORBIDDEN',
    }),
    () => ({
      name: 'an unknown query parameter',
      method: 'GET',
      path: '/api/v1/devices?grp=line-1',
      status: 400,
      code: 'VALIDATION_FAILED',
    }),
    () => ({
      name: 'a forged cursor',
      method: 'GET',
      path: '/api/v1/devices?cursor=Li4vZXRjL3Bhc3N3ZA',
      status: 400,
      code: 'VALIDATION_FAILED',
    }),
    () => ({ name: 'an unknown route', method: 'GET', path: '/api/v1/nope', status: 404, code: 'NOT_FOUND' }),
  ];

  describe('rejections', () => {
    it.each(cases.map((make) => [make().name, make] as const))('%s', async (_name, make) => {
      const c = make();
      const before = await snapshotDatabase(database.db);
      const counted = await fx.rejections(c.code);
      const logged = fx.logs.length;

      const res = await fx.request(c.method, c.path, c);

      expect(res.status, c.name).toBe(c.status);
      const envelope = errorEnvelopeSchema.parse(res.json);
      expect(envelope.error.code, c.name).toBe(c.code);
      expect(envelope.error.requestId).toBe(res.headers.get('x-request-id'));
      expect(await fx.rejections(c.code), `${c.name}: counted`).toBe(counted + 1);
      const line = fx.logs.slice(logged).find((l) => l.msg === 'request rejected');
      expect(line, `${c.name}: logged`).toMatchObject({
        level: 'warn',
        code: c.code,
        requestId: envelope.error.requestId,
      });
      expect(await snapshotDatabase(database.db), `${c.name}: nothing changed`).toEqual(before);
    });

    it('names each bad field in VALIDATION_FAILED details', async () => {
      const res = await fx.request('POST', '/api/v1/devices', {
        body: { id: 'cam-2', deviceClass: 7, tags: ['ok', 'Not OK'], extra: 1 },
      });
      expect(res.json.error.details).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ in: 'json', path: 'deviceClass' }),
          expect.objectContaining({ in: 'json', path: 'tags.1' }),
          { in: 'json', path: 'extra', message: 'unknown field' },
        ]),
      );
    });

    it('rejects a revoked token with TOKEN_REVOKED, from the next request on', async () => {
      const { token: victim, record } = await fx.tokenStore.create({ name: 'leaked', role: 'operator' });
      expect((await fx.request('GET', '/api/v1/devices', { token: victim })).status).toBe(200);
      expect((await fx.request('DELETE', `/api/v1/tokens/${record.id}`)).status).toBe(200);
      const before = await snapshotDatabase(database.db);
      const res = await fx.request('PATCH', '/api/v1/devices/cam-1', {
        token: victim,
        body: { displayName: 'x' },
      });
      expect(res.status).toBe(401);
      expect(res.json.error.code).toBe('TOKEN_REVOKED');
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(await snapshotDatabase(database.db)).toEqual(before);
    });

    it('rejects an expired token', async () => {
      const { token: old } = await fx.tokenStore.create({
        name: 'old',
        role: 'admin',
        expiresAt: new Date(Date.now() - 1000),
      });
      const res = await fx.request('GET', '/api/v1/devices', { token: old });
      expect(res.status).toBe(401);
      expect(res.json.error).toMatchObject({
        code: 'UNAUTHENTICATED',
        message: expect.stringMatching(/expired/),
      });
    });

    it('counts an oversized chunked body without a declared length', async () => {
      const before = await snapshotDatabase(database.db);
      const big = JSON.stringify({ id: 'cam-3', deviceClass: 'simulated', displayName: 'y'.repeat(40_000) });
      const stream = new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(big));
          controller.close();
        },
      });
      const res = await fx.app.request('/api/v1/devices', {
        method: 'POST',
        headers: {
          authorization: `Bearer ${fx.tokens.admin}`,
          'content-type': 'application/json',
          'transfer-encoding': 'chunked',
        },
        body: stream,
        duplex: 'half',
      } as RequestInit);
      expect(res.status).toBe(413);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('PAYLOAD_TOO_LARGE');
      expect(await snapshotDatabase(database.db)).toEqual(before);
    });

    it('hides internals of unexpected failures behind INTERNAL', async () => {
      const broken = await createApiFixture(database.db, {
        identity: {
          provisionDevice: async () => {
            throw new Error('connect ECONNREFUSED 10.0.0.5:5432 password=secret');
          },
          rotateCredentials: async () => ({ username: '', password: '' }),
          revokeCredentials: async () => ({ revoked: 0 }),
          passwordEntries: async () => [],
        },
      });
      const res = await broken.request('POST', '/api/v1/devices', {
        body: { id: 'cam-9', deviceClass: 'simulated' },
      });
      expect(res.status).toBe(500);
      expect(res.json.error.code).toBe('INTERNAL');
      expect(res.text).not.toMatch(/ECONNREFUSED|secret|stack/);
      expect(broken.logs.find((l) => l.msg === 'request failed')).toMatchObject({
        level: 'error',
        err: { message: expect.stringMatching(/ECONNREFUSED/) },
      });
    });
  });
});
