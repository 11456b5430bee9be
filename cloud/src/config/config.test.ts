import { describe, expect, it } from 'vitest';
import { CLOUD_SETTINGS, ConfigError, cloudConfigSchema, loadCloudConfig, parseCloudArgs } from './index.ts';

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('loadCloudConfig', () => {
  it('refuses a share group that is not a single topic level', () => {
    expect(() => loadCloudConfig({ flags: { 'mqtt-share-group': 'a/b' }, env: {} })).toThrow(
      /mqtt\.shareGroup/,
    );
    expect(loadCloudConfig({ flags: {}, env: { EDGELOOP_MQTT_SHARE_GROUP: 'site-a' } }).mqtt.shareGroup).toBe(
      'site-a',
    );
  });

  it('gives the embedded quick-start defaults with no input', () => {
    const config = loadCloudConfig();
    expect(config.http).toEqual({ host: '127.0.0.1', port: 8080, bodyLimit: 1024 * 1024 });
    expect(config.dataDir).toBe('./.edgeloop');
    expect(config.database.url).toBeUndefined();
    expect(config.mqtt).toEqual({ host: '127.0.0.1', tcpPort: 1884, wsPort: 8884, shareGroup: 'edgeloop' });
    expect(config.log).toEqual({ level: 'info', format: 'auto' });
    expect(config.quickStart).toBe(false);
  });

  it('reads the environment and lets flags win over it', () => {
    const config = loadCloudConfig({
      env: { EDGELOOP_HTTP_PORT: '9000', LOG_LEVEL: 'debug', DATABASE_URL: 'postgres://u:p@db:5432/el' },
      flags: { port: '9001' },
    });
    expect(config.http.port).toBe(9001);
    expect(config.log.level).toBe('debug');
    expect(config.database.url).toBe('postgres://u:p@db:5432/el');
  });

  it('treats an empty environment variable as unset', () => {
    expect(loadCloudConfig({ env: { EDGELOOP_HTTP_PORT: '' } }).http.port).toBe(8080);
  });

  it('accepts body sizes with units', () => {
    expect(loadCloudConfig({ flags: { 'body-limit': '512kb' } }).http.bodyLimit).toBe(512 * 1024);
    expect(loadCloudConfig({ env: { EDGELOOP_BODY_LIMIT: '2mb' } }).http.bodyLimit).toBe(2 * 1024 * 1024);
  });

  it('names the bad field and its source', () => {
    const err = configError(() => loadCloudConfig({ env: { EDGELOOP_HTTP_PORT: 'abc' } }));
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.issues).toEqual([
      { field: 'http.port', source: 'EDGELOOP_HTTP_PORT=abc', message: expect.stringMatching(/number/) },
    ]);
    expect(err.message).toMatch(/^EDGELOOP_HTTP_PORT=abc: http\.port: .*number/);
  });

  it('reports every bad field at once, flags named as flags', () => {
    const err = configError(() =>
      loadCloudConfig({ flags: { port: '70000', 'log-format': 'xml' }, env: { LOG_LEVEL: 'loud' } }),
    );
    expect(err.issues.map((i) => `${i.source} ${i.field}`).sort()).toEqual([
      '--log-format=xml log.format',
      '--port=70000 http.port',
      'LOG_LEVEL=loud log.level',
    ]);
  });

  it('never echoes a secret value in the message', () => {
    const err = configError(() => loadCloudConfig({ env: { DATABASE_URL: 'mysql://root:hunter2@db/x' } }));
    expect(err.message).toContain('DATABASE_URL=***: database.url');
    expect(err.message).not.toContain('hunter2');
  });

  it('rejects a malformed admin token', () => {
    const err = configError(() => loadCloudConfig({ env: { EDGELOOP_ADMIN_TOKEN: 'letmein' } }));
    expect(err.issues[0]?.field).toBe('auth.adminToken');
  });
});

describe('parseCloudArgs', () => {
  it('parses flags in both --k v and --k=v forms, and boolean flags', () => {
    const config = parseCloudArgs(['--port', '0', '--data-dir=/tmp/x', '--quick-start'], {});
    expect(config.http.port).toBe(0);
    expect(config.dataDir).toBe('/tmp/x');
    expect(config.quickStart).toBe(true);
  });

  it('rejects an unknown flag with a ConfigError', () => {
    const err = configError(() => parseCloudArgs(['--prot', '1'], {}));
    expect(err.message).toMatch(/--prot/);
  });
});

describe('CLOUD_SETTINGS', () => {
  it('covers every leaf of the schema exactly once', () => {
    const leaves: string[] = [];
    const walk = (shape: Record<string, unknown>, prefix: string) => {
      for (const [key, value] of Object.entries(shape)) {
        const inner = (value as { def?: { innerType?: { shape?: Record<string, unknown> } } }).def;
        const nested = (value as { shape?: Record<string, unknown> }).shape ?? inner?.innerType?.shape;
        if (nested) walk(nested, `${prefix}${key}.`);
        else leaves.push(`${prefix}${key}`);
      }
    };
    walk(cloudConfigSchema.shape, '');
    expect(CLOUD_SETTINGS.map((s) => s.path).sort()).toEqual(leaves.sort());
    expect(new Set(CLOUD_SETTINGS.map((s) => s.flag)).size).toBe(CLOUD_SETTINGS.length);
    expect(new Set(CLOUD_SETTINGS.map((s) => s.env)).size).toBe(CLOUD_SETTINGS.length);
  });
});
