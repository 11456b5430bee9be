import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../db/index.ts';
import { testDatabases } from '../../db/testing.ts';
import { verifySecret } from '../../identity/index.ts';
import { createApiFixture } from '../testing.ts';

describe.each(testDatabases())('mosquitto files API on $name', ({ open }) => {
  let database: Database;
  let fx: Awaited<ReturnType<typeof createApiFixture>>;

  beforeAll(async () => {
    database = await open();
    fx = await createApiFixture(database.db);
  });
  afterAll(async () => {
    await database.close();
  });

  it('exports hashes of the active credentials, pattern ACLs and a config naming the files', async () => {
    const created = await fx.request('POST', '/api/v1/devices', {
      token: fx.tokens.operator,
      body: { id: 'cam-1', deviceClass: 'simulated' },
    });
    const { credentials } = created.json as { credentials: { password: string } };
    await fx.request('POST', '/api/v1/devices', {
      token: fx.tokens.operator,
      body: { id: 'cam-2', deviceClass: 'simulated' },
    });
    await fx.request('POST', '/api/v1/devices/cam-2/credentials/revoke', { token: fx.tokens.operator });

    const res = await fx.request(
      'GET',
      '/api/v1/broker/mosquitto-files?dir=/srv/mq&port=8883&websocketPort=9001',
      {
        token: fx.tokens.admin,
      },
    );
    expect(res.status).toBe(200);
    const files = res.json as { passwd: string; acl: string; conf: string; devices: number };
    const lines = files.passwd.trim().split('\n');
    const cam1 = lines.find((l) => l.startsWith('cam-1:'));
    expect(cam1).toBeDefined();
    expect(await verifySecret(credentials.password, cam1!.slice('cam-1:'.length))).toBe(true);
    expect(lines.some((l) => l.startsWith('cam-2:'))).toBe(false); // revoked: not exported
    expect(files.devices).toBe(1);
    expect(files.passwd).not.toContain(credentials.password);
    expect(files.acl).toContain('pattern write el/v1/dev/%u/telemetry');
    expect(files.conf).toContain('password_file /srv/mq/passwd');
    expect(files.conf).toContain('acl_file /srv/mq/acl');
    expect(files.conf).toContain('listener 8883');
    expect(files.conf).toContain('listener 9001');
  });

  it('is for admins only, and validates its query', async () => {
    const asOperator = await fx.request('GET', '/api/v1/broker/mosquitto-files', {
      token: fx.tokens.operator,
    });
    expect(asOperator.status).toBe(403);
    const relative = await fx.request('GET', '/api/v1/broker/mosquitto-files?dir=etc/mq', {
      token: fx.tokens.admin,
    });
    expect(relative.status).toBe(400);
    expect((relative.json as { error: { code: string } }).error.code).toBe('VALIDATION_FAILED');
  });
});
