import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EdgeloopError } from '@edgeloop/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { agentConfigFromSources, parseAgentConfig } from './config.ts';
import { testSigningKey } from './testing/fixtures.ts';
import { PINNED_KEYS_FILE, resolveTrustedKeys } from './trusted-keys.ts';

const key = testSigningKey();
const publicKey = Buffer.from(key.publicRaw).toString('base64');

describe('agent configuration', () => {
  it('takes flags over environment variables and derives the broker from the cloud URL', () => {
    const config = agentConfigFromSources({
      flags: {
        'device-id': 'cam-1',
        token: 's3cret',
        profile: 'simulated',
        'data-dir': '/tmp/x',
        cloud: 'http://cloud.local:8080',
      },
      env: { EDGELOOP_DEVICE_ID: 'ignored', EDGELOOP_API_PORT: '0', EDGELOOP_TRUSTED_KEYS: `${publicKey}, ` },
    });
    expect(config).toMatchObject({
      deviceId: 'cam-1',
      brokerUrl: 'mqtt://cloud.local:1883',
      cloudUrl: 'http://cloud.local:8080',
      trustedKeys: [publicKey],
      api: { host: '127.0.0.1', port: 0 },
    });
    expect(config.tuning.reconnect).toEqual({ initialMs: 1000, maxMs: 60_000 });
  });

  it('names every bad field with its flag and environment variable', () => {
    const failure = (() => {
      try {
        agentConfigFromSources({
          flags: { 'device-id': 'Cam/1', broker: 'http://not-mqtt', 'api-port': 'eighty' },
          env: {},
        });
      } catch (err) {
        return err as EdgeloopError;
      }
      return undefined;
    })();
    expect(failure).toBeInstanceOf(EdgeloopError);
    expect(failure?.code).toBe('VALIDATION_FAILED');
    for (const part of [
      'deviceId (--device-id / EDGELOOP_DEVICE_ID)',
      'token (--token / EDGELOOP_TOKEN)',
      'brokerUrl (--broker / EDGELOOP_BROKER_URL)',
      'profile (--profile / EDGELOOP_PROFILE)',
      'api.port (--api-port / EDGELOOP_API_PORT)',
    ]) {
      expect(failure?.message).toContain(part);
    }
  });

  it('rejects a trusted key that is not 32 bytes of base64', () => {
    expect(() =>
      parseAgentConfig({
        deviceId: 'cam-1',
        token: 't',
        brokerUrl: 'mqtt://localhost',
        profile: 'simulated',
        dataDir: '/tmp/x',
        trustedKeys: ['AAAA'],
      }),
    ).toThrow(/trustedKeys\.0 \(--trusted-key/);
  });
});

describe('trusted keys', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'el-keys-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const keySet = { keys: [{ alg: 'ed25519', keyId: key.keyId, publicKey }] };
  const serving = (body: unknown) => {
    const calls: string[] = [];
    const fetchImpl = (async (url: string | URL | Request) => {
      calls.push(String(url));
      return new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } });
    }) as typeof fetch;
    return { calls, fetchImpl };
  };

  it('fetches the keys once from the cloud, pins them, and never asks again', async () => {
    const { calls, fetchImpl } = serving(keySet);
    const first = await resolveTrustedKeys(
      { trustedKeys: [], cloudUrl: 'http://cloud.local:8080', dataDir: dir },
      fetchImpl,
    );
    expect(first.source).toBe('cloud');
    expect(first.keys.map((k) => k.keyId)).toEqual([key.keyId]);
    expect(calls).toEqual(['http://cloud.local:8080/api/v1/keys']);
    expect(JSON.parse(await readFile(join(dir, PINNED_KEYS_FILE), 'utf8')).keys).toEqual([publicKey]);

    const impostor = serving({ keys: [{ alg: 'ed25519', keyId: testSigningKey().keyId, publicKey: 'x' }] });
    const second = await resolveTrustedKeys(
      { trustedKeys: [], cloudUrl: 'http://cloud.local:8080', dataDir: dir },
      impostor.fetchImpl,
    );
    expect(second.source).toBe('pinned');
    expect(second.keys.map((k) => k.keyId)).toEqual([key.keyId]);
    expect(impostor.calls).toEqual([]);
  });

  it('refuses a key set whose keyId does not match its key, and a damaged pin', async () => {
    const other = testSigningKey();
    const { fetchImpl } = serving({ keys: [{ alg: 'ed25519', keyId: other.keyId, publicKey }] });
    await expect(
      resolveTrustedKeys({ trustedKeys: [], cloudUrl: 'http://c', dataDir: dir }, fetchImpl),
    ).rejects.toThrow(/does not match/);
    await writeFile(join(dir, PINNED_KEYS_FILE), '{"v":1,');
    await expect(resolveTrustedKeys({ trustedKeys: [], cloudUrl: 'http://c', dataDir: dir })).rejects.toThrow(
      /damaged/,
    );
  });

  it('needs either keys or a cloud to fetch them from', async () => {
    await expect(resolveTrustedKeys({ trustedKeys: [], dataDir: dir })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
  });
});
