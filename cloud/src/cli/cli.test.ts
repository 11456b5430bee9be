// The `edgeloop` CLI end to end: the real dispatcher (bin/cli.ts) against a real cloud started in
// this process (embedded PGlite on disk, embedded broker), over HTTP.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCloud, startCloud } from '../cloud.ts';
import { loadCloudConfig } from '../config/index.ts';
import { silentLogger } from '../log/index.ts';
import { runCli } from './testing.ts';

// The dispatcher lives at the repository root; it is what `edgeloop` runs.
let dataDir: string;
let cloud: RunningCloud;
let env: Record<string, string | undefined>;

const ports = { port: '0', 'mqtt-port': '0', 'mqtt-ws-port': '0' };

const run = (argv: string[], extraEnv: Record<string, string | undefined> = {}, stop?: AbortSignal) =>
  runCli(argv, { env: { ...env, ...extraEnv }, ...(stop ? { stop } : {}) });

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'edgeloop-cli-'));
  const config = loadCloudConfig({ flags: { ...ports, 'data-dir': dataDir, 'quick-start': true } });
  // No background training of the default model: these tests are about devices and tokens.
  cloud = await startCloud(config, { logger: silentLogger, bootstrapModel: false });
  env = { EDGELOOP_CLOUD: cloud.urls.api, EDGELOOP_TOKEN: cloud.adminToken };
});
afterAll(async () => {
  await cloud?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('edgeloop device / group / token', () => {
  it('adds, lists, shows, rotates and revokes a device', async () => {
    expect((await run(['group', 'create', 'line-1'])).code).toBe(0);
    const added = await run([
      'device',
      'add',
      'cam-1',
      '--class',
      'simulated',
      '--group',
      'line-1',
      '--tag',
      'night',
      '--tag',
      'ir',
    ]);
    expect(added.code).toBe(0);
    expect(added.out).toMatch(/Provisioned cam-1/);
    const password = /password:\s+(\S+)/.exec(added.out)?.[1];
    expect(password).toMatch(/^\S{20,}$/);
    expect(added.out).toContain(cloud.urls.mqtt);

    const table = await run(['device', 'list']);
    expect(table.code).toBe(0);
    expect(table.out.split('\n')[0]).toMatch(/^ID\s+CLASS\s+GROUP\s+STATUS\s+LAST SEEN\s+MODEL\s+TAGS$/);
    expect(table.out).toMatch(/cam-1\s+simulated\s+line-1\s+unknown\s+-\s+-\s+night,ir/);
    expect(table.out).toMatch(/1 of 1 devices/);

    const shown = await run(['device', 'show', 'cam-1', '--json']);
    expect(JSON.parse(shown.out)).toMatchObject({ id: 'cam-1', group: 'line-1', tags: ['night', 'ir'] });
    expect(shown.out).not.toContain(password as string);

    const rotated = await run(['device', 'rotate', 'cam-1', '--json']);
    expect(rotated.code).toBe(0);
    expect(JSON.parse(rotated.out).password).not.toBe(password);

    const revoked = await run(['device', 'revoke', 'cam-1']);
    expect(revoked).toMatchObject({
      code: 0,
      out: expect.stringMatching(/Revoked the credentials of cam-1/),
    });
  });

  it('follows every page with --all', async () => {
    for (const id of ['p-1', 'p-2', 'p-3']) {
      expect((await run(['device', 'add', id, '--class', 'simulated', '--tag', 'paged'])).code).toBe(0);
    }
    const firstPage = JSON.parse(
      (await run(['device', 'list', '--tag', 'paged', '--limit', '2', '--json'])).out,
    );
    expect(firstPage.items).toHaveLength(2);
    expect(firstPage.nextCursor).toEqual(expect.any(String));
    const all = JSON.parse(
      (await run(['device', 'list', '--tag', 'paged', '--limit', '2', '--all', '--json'])).out,
    );
    expect(all.items.map((d: { id: string }) => d.id)).toEqual(['p-1', 'p-2', 'p-3']);
  });

  it('issues, uses, lists and revokes tokens; roles hold', async () => {
    const issued = await run(['token', 'create', 'dashboard', '--role', 'viewer', '--json']);
    expect(issued.code).toBe(0);
    const { token, record } = JSON.parse(issued.out);

    const asViewer = { EDGELOOP_TOKEN: token };
    expect((await run(['device', 'list'], asViewer)).code).toBe(0);
    const denied = await run(['device', 'add', 'x-1', '--class', 'simulated'], asViewer);
    expect(denied.code).toBe(1);
    expect(denied.err).toMatch(/needs the operator role.*\[FORBIDDEN\]/);

    expect((await run(['token', 'list'])).out).toMatch(
      new RegExp(`${record.id}\\s+dashboard\\s+viewer\\s+active`),
    );
    expect((await run(['token', 'revoke', record.id])).code).toBe(0);
    const afterRevoke = await run(['device', 'list'], asViewer);
    expect(afterRevoke.code).toBe(1);
    expect(afterRevoke.err).toMatch(/\[TOKEN_REVOKED\]/);
  });

  it('writes Mosquitto files for an external broker, the password file readable only by its owner', async () => {
    await run(['device', 'add', 'cam-mq', '--class', 'simulated']);
    const out = join(dataDir, 'mosquitto');
    const res = await run(['broker', 'mosquitto-files', '--out', out, '--port', '8883']);
    expect(res.code, res.err).toBe(0);
    expect(res.out).toMatch(/Wrote passwd \(\d+ devices? \+ the cloud account\), acl and mosquitto.conf/);
    const passwd = await readFile(join(out, 'passwd'), 'utf8');
    expect(passwd).toMatch(/^cam-mq:\$7\$/m);
    expect((await stat(join(out, 'passwd'))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(out, 'mosquitto.conf'), 'utf8')).toContain(`password_file ${out}/passwd`);
    const bad = await run(['broker', 'mosquitto-files', '--out', out, '--port', 'x']);
    expect(bad.code).toBe(2);
  });

  it('explains API validation failures field by field', async () => {
    const bad = await run(['device', 'add', 'Bad/Id', '--class', 'simulated']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/\[VALIDATION_FAILED\]\n {2}id: device id must match/);
  });

  it('rejects a bad command line with usage and exit 2', async () => {
    const missing = await run(['device', 'add', 'cam-9']);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/--class is required[\s\S]*usage: edgeloop device add/);
    expect((await run(['device', 'list', '--colour'])).code).toBe(2);
    expect((await run(['device', 'show'])).code).toBe(2);
    expect((await run(['device', 'explode'])).code).toBe(2);
    expect((await run(['token', 'create', 'x', '--role', 'root'])).err).toMatch(/--role must be one of/);
  });

  it('has --help for every command', async () => {
    for (const argv of [
      ['--help'],
      ['device', '--help'],
      ['device', 'list', '--help'],
      ['cloud', 'start', '--help'],
    ]) {
      const help = await run(argv);
      expect(help.code, argv.join(' ')).toBe(0);
      expect(help.out).toMatch(/usage: edgeloop/);
    }
    expect((await run(['cloud', 'start', '--help'])).out).toMatch(
      /--port <value>\s+HTTP port.*\[EDGELOOP_HTTP_PORT\]/,
    );
  });

  it('says clearly when the cloud is unreachable', async () => {
    const res = await run(['device', 'list'], { EDGELOOP_CLOUD: 'http://127.0.0.1:1' });
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/cannot reach the cloud at http:\/\/127\.0\.0\.1:1.*\[UNAVAILABLE\]/);
  });
});

describe('edgeloop cloud start / start', () => {
  it('refuses bad configuration naming the field and its source', async () => {
    const res = await run(['cloud', 'start', '--log-level', 'loud'], { EDGELOOP_HTTP_PORT: 'abc' });
    expect(res.code).toBe(2);
    expect(res.err).toContain('EDGELOOP_HTTP_PORT=abc: http.port:');
    expect(res.err).toContain('--log-level=loud: log.level:');
  });

  it('keeps the quick-start admin token in the data dir and shows it again on the next start', async () => {
    const stored = (await readFile(join(dataDir, 'admin-token'), 'utf8')).trim();
    expect(stored).toBe(cloud.adminToken);
    await cloud.close(); // PGlite allows one process per data dir: stop the first cloud

    // Stop it (as SIGINT would) once the banner says it is up, after checking it serves requests.
    const stop = new AbortController();
    let served = 0;
    let asked = false;
    const result = await runCli(
      [
        'start',
        '--no-fleet',
        '--port',
        '0',
        '--mqtt-port',
        '0',
        '--mqtt-ws-port',
        '0',
        '--data-dir',
        dataDir,
      ],
      {
        env: {},
        stop: stop.signal,
        onOut: (out) => {
          const api = /API {10}(\S+)/.exec(out)?.[1];
          if (!api || asked) return;
          asked = true;
          void fetch(`${api}/api/v1/devices`, { headers: { authorization: `Bearer ${stored}` } })
            .then((res) => {
              served = res.status;
            })
            .finally(() => stop.abort());
        },
      },
    );
    expect(served).toBe(200);
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/edgeloop is running/);
    expect(result.out).toContain(`admin token  ${stored}`);
    expect(result.out).toMatch(/API docs {5}http:\/\/127\.0\.0\.1:\d+\/docs/);
  });
});
