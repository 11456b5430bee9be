// POST /api/v1/telemetry through the real app into the real ingestor on real databases: an app key
// with telemetry:write lands windows in telemetry_windows next to MQTT ones, the browser shows up
// as a `browser` device, and the refusals (scope, origin, foreign device ids, mixed batches) hold.
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../db/index.ts';
import { devices, telemetryWindows } from '../../db/schema.ts';
import { testDatabases } from '../../db/testing.ts';
import { TelemetryIngestor } from '../../ingest/index.ts';
import { telemetryWindow } from '../../ingest/testing.ts';
import { createApiFixture } from '../testing.ts';

const SHOP = 'https://shop.example.com';

describe.each(testDatabases())('web telemetry on $name', ({ open }) => {
  let database: Database;
  let ingestor: TelemetryIngestor;
  let fx: Awaited<ReturnType<typeof createApiFixture>>;
  let appKey: string;

  beforeAll(async () => {
    database = await open();
    ingestor = new TelemetryIngestor({
      db: database.db,
      flushIntervalMs: 5,
      rateLimit: { burst: 3, perSecond: 0.001 },
    });
    ingestor.start();
    fx = await createApiFixture(database.db, { webTelemetry: ingestor });
    const created = await fx.request('POST', '/api/v1/app-keys', {
      body: { name: 'shop', allowedOrigins: [SHOP] },
    });
    appKey = created.json.key;
  });
  afterAll(async () => {
    await ingestor.stop();
    await database.close();
  });

  const post = (body: unknown, token = appKey, headers: Record<string, string> = {}) =>
    fx.request('POST', '/api/v1/telemetry', { token, body, headers });

  it('ingests a batch from a browser like MQTT windows, and registers the install as a browser', async () => {
    const id = 'web-3f9a2c1d';
    const res = await post({ windows: [telemetryWindow(id, 1), telemetryWindow(id, 2)] }, appKey, {
      origin: SHOP,
    });
    expect(res).toMatchObject({ status: 202, json: { deviceId: id, accepted: 2, rateLimited: 0 } });
    expect(res.headers.get('access-control-allow-origin')).toBe(SHOP);
    await ingestor.drain();
    const rows = await database.db.select().from(telemetryWindows).where(eq(telemetryWindows.deviceId, id));
    expect(rows.map((r) => [r.seq, r.inferences, r.modelName, r.classCounts])).toEqual([
      [1, 100, 'digits', [50, 30, 20]],
      [2, 100, 'digits', [50, 30, 20]],
    ]);
    const [device] = await database.db.select().from(devices).where(eq(devices.id, id));
    expect(device).toMatchObject({ deviceClass: 'browser', displayName: 'browser (shop)' });

    // A resent window (the page retried after a timeout) is the same row, not a second one.
    expect((await post({ windows: [telemetryWindow(id, 2)] })).status).toBe(202);
    await ingestor.drain();
    expect(
      await database.db.select().from(telemetryWindows).where(eq(telemetryWindows.deviceId, id)),
    ).toHaveLength(2);
  });

  it('counts windows past the per-device rate limit instead of storing them', async () => {
    const id = 'web-ratelimited';
    const windows = [1, 2, 3, 4, 5].map((seq) => telemetryWindow(id, seq));
    const res = await post({ windows });
    expect(res).toMatchObject({ status: 202, json: { accepted: 3, rateLimited: 2 } });
  });

  it('refuses what a copied key must not do', async () => {
    const bad = async (body: unknown, token: string, code: string, headers: Record<string, string> = {}) => {
      const res = await post(body, token, headers);
      expect(res.json?.error?.code).toBe(code);
      return res;
    };
    // Speaking for a provisioned device, even one named web-…
    await fx.deps.identity.provisionDevice({ id: 'web-camera-1', deviceClass: 'simulated' });
    const foreign = await bad({ windows: [telemetryWindow('web-camera-1', 1)] }, appKey, 'FORBIDDEN');
    expect(foreign.status).toBe(403);
    await bad({ windows: [telemetryWindow('cam-1', 1)] }, appKey, 'VALIDATION_FAILED');
    await bad(
      { windows: [telemetryWindow('web-aaaa1', 1), telemetryWindow('web-bbbb2', 1)] },
      appKey,
      'VALIDATION_FAILED',
    );
    await bad({ windows: [] }, appKey, 'VALIDATION_FAILED');
    await bad({ windows: [{ ...telemetryWindow('web-aaaa1', 1), v: 2 }] }, appKey, 'VALIDATION_FAILED');
    // A key without the scope, a key used from another origin.
    const noScope = await fx.request('POST', '/api/v1/app-keys', {
      body: { name: 'read-only', scopes: ['models:resolve', 'artifacts:read'] },
    });
    await bad({ windows: [telemetryWindow('web-aaaa1', 1)] }, noScope.json.key, 'FORBIDDEN');
    const elsewhere = await bad({ windows: [telemetryWindow('web-aaaa1', 1)] }, appKey, 'FORBIDDEN', {
      origin: 'https://evil.example.net',
    });
    expect(elsewhere.headers.get('access-control-allow-origin')).toBeNull();
    await ingestor.drain();
    expect(
      await database.db.select().from(telemetryWindows).where(eq(telemetryWindows.deviceId, 'web-aaaa1')),
    ).toEqual([]);
  });

  // What navigator.sendBeacon sends: no Authorization header, the key in a text/plain JSON body.
  const beacon = (body: unknown, headers: Record<string, string> = {}) =>
    fx.request('POST', '/api/v1/telemetry/beacon', {
      token: null,
      raw: typeof body === 'string' ? body : JSON.stringify(body),
      headers: { 'content-type': 'text/plain;charset=UTF-8', ...headers },
    });

  it('takes a beacon with the app key in its text/plain body', async () => {
    const id = 'web-beacon01';
    const res = await beacon({ appKey, windows: [telemetryWindow(id, 9)] }, { origin: SHOP });
    expect(res).toMatchObject({ status: 202, json: { deviceId: id, accepted: 1, rateLimited: 0 } });
    await ingestor.drain();
    const rows = await database.db.select().from(telemetryWindows).where(eq(telemetryWindows.deviceId, id));
    expect(rows.map((r) => r.seq)).toEqual([9]);
    const [device] = await database.db.select().from(devices).where(eq(devices.id, id));
    expect(device?.deviceClass).toBe('browser');
  });

  it('refuses beacons that are malformed, unauthorised or too large, counting each refusal', async () => {
    const id = 'web-beacon02';
    const windows = [telemetryWindow(id, 1)];
    const noScope = await fx.request('POST', '/api/v1/app-keys', {
      body: { name: 'resolve-only', scopes: ['models:resolve'] },
    });
    const cases: [string, unknown, Record<string, string>, number, string][] = [
      ['not JSON', '{"appKey":', {}, 400, 'MALFORMED_JSON'],
      [
        'a form body',
        { appKey, windows },
        { 'content-type': 'application/x-www-form-urlencoded' },
        400,
        'MALFORMED_JSON',
      ],
      ['no key', { windows }, {}, 400, 'VALIDATION_FAILED'],
      ['an operator token', { appKey: fx.tokens.admin, windows }, {}, 401, 'UNAUTHENTICATED'],
      [
        'an unknown key',
        { appKey: `app_0123456789ab_${'A'.repeat(43)}`, windows },
        {},
        401,
        'UNAUTHENTICATED',
      ],
      ['a key without telemetry:write', { appKey: noScope.json.key, windows }, {}, 403, 'FORBIDDEN'],
      ['another origin', { appKey, windows }, { origin: 'https://evil.example.net' }, 403, 'FORBIDDEN'],
      ['a non-web device', { appKey, windows: [telemetryWindow('cam-1', 1)] }, {}, 400, 'VALIDATION_FAILED'],
      ['over 64 KiB', { appKey, windows, pad: 'x'.repeat(70_000) }, {}, 413, 'PAYLOAD_TOO_LARGE'],
    ];
    for (const [name, body, headers, status, code] of cases) {
      const before = await fx.rejections(code);
      const res = await beacon(body, headers);
      expect({ name, status: res.status, code: res.json?.error?.code }).toEqual({ name, status, code });
      expect({ name, counted: (await fx.rejections(code)) - before }).toEqual({ name, counted: 1 });
    }
    await ingestor.drain();
    expect(
      await database.db.select().from(telemetryWindows).where(eq(telemetryWindows.deviceId, id)),
    ).toEqual([]);
    // The beacon route opens nothing else: the bearer route still wants its header.
    expect((await fx.request('POST', '/api/v1/telemetry', { token: null, body: { windows } })).status).toBe(
      401,
    );
  });
});
