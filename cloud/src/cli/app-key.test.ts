// `edgeloop app-key` through the real dispatcher against a real quick-start cloud, and the quick
// start's demo key: kept across restarts, replaced (never revived) once revoked.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCloud, startCloud } from '../cloud.ts';
import { loadCloudConfig } from '../config/index.ts';
import { silentLogger } from '../log/index.ts';
import { runCli } from './testing.ts';

let dataDir: string;
let cloud: RunningCloud;

const start = () =>
  startCloud(
    loadCloudConfig({
      flags: { port: '0', 'mqtt-port': '0', 'mqtt-ws-port': '0', 'data-dir': dataDir, 'quick-start': true },
    }),
    { logger: silentLogger, bootstrapModel: false },
  );

const run = (argv: string[]) =>
  runCli(argv, { env: { EDGELOOP_CLOUD: cloud.urls.api, EDGELOOP_TOKEN: cloud.adminToken } });

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'edgeloop-app-key-cli-'));
  cloud = await start();
});
afterAll(async () => {
  await cloud?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('edgeloop app-key', () => {
  it('creates (printed once), lists and revokes app keys', async () => {
    const created = await run([
      'app-key',
      'create',
      'shop',
      '--origin',
      'https://shop.example.com',
      '--json',
    ]);
    expect(created.code).toBe(0);
    const { key, record } = JSON.parse(created.out);
    expect(key).toMatch(/^app_[a-f0-9]{12}_/);
    expect(record.allowedOrigins).toEqual(['https://shop.example.com']);

    const listed = await run(['app-key', 'list']);
    expect(listed.out.split('\n')[0]).toMatch(/^ID\s+NAME\s+STATE\s+ORIGINS\s+SCOPES\s+CREATED$/);
    expect(listed.out).toMatch(
      new RegExp(`${record.id}\\s+shop\\s+active\\s+https://shop.example.com\\s+all`),
    );
    expect(listed.out).toMatch(/\bdemo\s+active\s+\(same origin\)/);
    expect(listed.out).not.toContain(key.slice(-43));

    expect((await run(['app-key', 'revoke', record.id])).out).toBe(`Revoked app key ${record.id} (shop).\n`);
    expect((await run(['app-key', 'list'])).out).toMatch(new RegExp(`${record.id}\\s+shop\\s+revoked`));
    const bad = await run(['app-key', 'create', 'x', '--scope', 'devices:write']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/unknown --scope devices:write/);
  });

  it('keeps the quick start demo key across restarts, and replaces it once revoked', async () => {
    const first = cloud.demoAppKey!;
    expect((await readFile(join(dataDir, 'demo-app-key'), 'utf8')).trim()).toBe(first);
    await cloud.close();
    cloud = await start();
    expect(cloud.demoAppKey).toBe(first);

    const id = /^app_([a-f0-9]{12})_/.exec(first)![1]!;
    expect((await run(['app-key', 'revoke', id])).code).toBe(0);
    await cloud.close();
    cloud = await start();
    expect(cloud.demoAppKey).toMatch(/^app_/);
    expect(cloud.demoAppKey).not.toBe(first);
    expect(cloud.urls.demo).toBe(`${cloud.urls.api}/demo#key=${cloud.demoAppKey}`);
  });
});
