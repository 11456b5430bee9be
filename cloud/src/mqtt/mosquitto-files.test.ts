import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topics } from '@edgeloop/shared';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../identity/secret-hash.ts';
import {
  mosquittoAclFile,
  mosquittoConf,
  mosquittoPasswordFile,
  writeMosquittoFiles,
} from './mosquitto-files.ts';
import { collectMessages, freePort, hasMosquitto, type RunningMosquitto, startMosquitto } from './testing.ts';

const HASH =
  '$7$101$ePA55X7kwwmxAaNA$N/1Q/Ixs6Cgf6Rw1j/xdeJ2I7eOzEl446rq8JLkHusaGNsjI1A3FQRoTMsCVNYkvzAk/cbVYxeMlUzqVdkKZZQ==';

describe('mosquitto file generation', () => {
  it('writes one username:hash line per account and refuses what would corrupt the file', () => {
    expect(mosquittoPasswordFile([{ username: 'cam-1', secretHash: HASH }])).toBe(`cam-1:${HASH}\n`);
    expect(mosquittoPasswordFile([])).toBe('');
    expect(() => mosquittoPasswordFile([{ username: 'a:b', secretHash: HASH }])).toThrow(/username/);
    expect(() => mosquittoPasswordFile([{ username: 'a', secretHash: 'plain' }])).toThrow(/\$7\$/);
    expect(() =>
      mosquittoPasswordFile([
        { username: 'a', secretHash: HASH },
        { username: 'a', secretHash: HASH },
      ]),
    ).toThrow(/duplicate/);
  });

  it('derives pattern ACLs from the contract', () => {
    const acl = mosquittoAclFile({ cloudUsernames: ['edgeloop-cloud', 'edgeloop-cloud-2'] });
    for (const line of [
      'pattern write el/v1/dev/%u/telemetry',
      'pattern write el/v1/dev/%u/artifact/req',
      'pattern read el/v1/dev/%u/#',
      'pattern read el/v1/art/+/+',
      'user edgeloop-cloud\ntopic readwrite #',
      'user edgeloop-cloud-2\ntopic readwrite #',
    ]) {
      expect(acl).toContain(line);
    }
    // desired is the cloud's channel: no device may write it
    expect(acl).not.toMatch(/write el\/v1\/dev\/%u\/desired/);
  });

  it('writes a conf that requires authentication', () => {
    const conf = mosquittoConf({ passwordFile: '/p', aclFile: '/a', port: 1884, websocketPort: 9001 });
    expect(conf).toContain('allow_anonymous false');
    expect(conf).toContain('password_file /p');
    expect(conf).toMatch(/listener 9001\n(.*\n)?protocol websockets/);
    expect(conf.match(/use_username_as_clientid true/g)).toHaveLength(2);
  });
});

/**
 * The real thing: /usr/sbin/mosquitto on a free port with the generated files. Device ids are
 * random per run so parallel runs never interfere.
 */
describe.skipIf(!hasMosquitto())('real mosquitto with the generated files', () => {
  const run = Math.random().toString(36).slice(2, 8);
  const devA = `dev-a-${run}`;
  const devB = `dev-b-${run}`;
  const secrets = { cloud: 'cloud-secret', [devA]: 'secret-a', [devB]: 'secret-b' };
  let dir: string;
  let broker: RunningMosquitto;
  let port: number;
  const clients: MqttClient[] = [];

  const connect = async (username: string, password: string, clientId = username) => {
    const client = await connectAsync(`mqtt://127.0.0.1:${port}`, {
      username,
      password,
      clientId,
      reconnectPeriod: 0,
      connectTimeout: 3_000,
    });
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'el-mosquitto-'));
    port = await freePort();
    const files = await writeMosquittoFiles(dir, {
      entries: [
        { username: 'edgeloop-cloud', secretHash: await hashSecret(secrets.cloud) },
        { username: devA, secretHash: await hashSecret(secrets[devA] ?? '') },
        { username: devB, secretHash: await hashSecret(secrets[devB] ?? '') },
      ],
      port,
      bindAddress: '127.0.0.1',
      // mosquitto drops root privileges to its own user, which cannot read our 0600 temp files
      extraLines: process.getuid?.() === 0 ? ['user root'] : [],
    });
    broker = await startMosquitto(files.confFile);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await broker?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('delivers a device its own telemetry to the cloud, and drops what it publishes as another device', async () => {
    const cloud = await connect('edgeloop-cloud', secrets.cloud);
    const inbox = collectMessages(cloud);
    await cloud.subscribeAsync('el/v1/dev/+/+', { qos: 1 });
    const a = await connect(devA, secrets[devA] ?? '');
    await a.publishAsync(topics.telemetry(devB), 'forged', { qos: 1 });
    await a.publishAsync(topics.desired(devA), 'self-desired', { qos: 1 });
    await a.publishAsync(topics.telemetry(devA), 'own', { qos: 1 });
    // one connection's messages arrive in order: once "own" is here, the forged ones are gone for good
    await inbox.waitFor((m) => m.payload === 'own');
    expect(inbox.messages.map((m) => m.topic)).toEqual([topics.telemetry(devA)]);
  });

  it('gives a device subscribed to # or to another device nothing but its own and artifact topics', async () => {
    const a = await connect(devA, secrets[devA] ?? '');
    const inbox = collectMessages(a);
    await a.subscribeAsync(['#', topics.desired(devB), 'el/v1/dev/+/desired'], { qos: 1 });
    const cloud = await connect('edgeloop-cloud', secrets.cloud, `cloud-${run}`);
    await cloud.publishAsync(topics.desired(devB), 'for-b', { qos: 1 });
    const b = await connect(devB, secrets[devB] ?? '');
    await b.publishAsync(topics.telemetry(devB), 'b-telemetry', { qos: 1 });
    await cloud.publishAsync(topics.artifactChunk('c'.repeat(64), 0), 'chunk', { qos: 1 });
    await cloud.publishAsync(topics.desired(devA), 'for-a', { qos: 1 });
    await inbox.waitFor((m) => m.payload === 'for-a');
    expect(new Set(inbox.messages.map((m) => m.payload))).toEqual(new Set(['chunk', 'for-a']));
    expect(inbox.messages.some((m) => m.topic.includes(devB))).toBe(false);
  });

  it('refuses a wrong password and an unknown user', async () => {
    await expect(connect(devA, 'wrong')).rejects.toThrow(/Not authorized|Bad username/i);
    await expect(connect(`ghost-${run}`, 'x')).rejects.toThrow(/Not authorized|Bad username/i);
  });

  it('does not let a device take over another device session by client id', async () => {
    const b = await connect(devB, secrets[devB] ?? '');
    const closed = new Promise<string>((resolve) => b.once('close', () => resolve('closed')));
    const a = await connect(devA, secrets[devA] ?? '', devB);
    // mosquitto replaced a's client id with its username, so b keeps its session
    await a.publishAsync(topics.telemetry(devA), 'ping', { qos: 1 });
    const outcome = await Promise.race([
      b.publishAsync(topics.telemetry(devB), 'still-here', { qos: 1 }).then(() => 'published'),
      closed,
    ]);
    expect(outcome).toBe('published');
    expect(b.connected).toBe(true);
  });
});
