// `edgeloop alerts` through the real dispatcher, against the API on a real socket.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../db/index.ts';
import { alerts } from '../db/schema.ts';
import { type CliApi, runCli, startCliApi } from './testing.ts';

describe('edgeloop alerts', () => {
  let cli: CliApi;
  let database: Database;
  let env: Record<string, string>;

  beforeAll(async () => {
    cli = await startCliApi('viewer');
    ({ database, env } = cli);
    const now = Date.now();
    await database.db.insert(alerts).values([
      {
        key: 'drift:digits:3:device_class:pi4',
        kind: 'drift',
        severity: 'warning',
        subject: 'model:digits',
        message: 'digits v3 drifted on device class pi4: brightness (PSI 0.41)',
        openedAt: new Date(now - 120_000),
      },
      {
        key: 'rollout_stuck:r1',
        kind: 'rollout_stuck',
        severity: 'critical',
        subject: 'rollout:r1',
        message: 'rollout r1 paused for 2 h',
        openedAt: new Date(now - 7_200_000),
        resolvedAt: new Date(now - 60_000),
      },
    ]);
  }, 60_000);
  afterAll(async () => {
    await cli?.close();
  });

  const run = (argv: string[]) => runCli(argv, { env });

  it('prints open alerts as a table, --all adds resolved ones, --json the API items', async () => {
    const open = await run(['alerts']);
    expect(open.code).toBe(0);
    const lines = open.out.trim().split('\n');
    expect(lines[0]).toMatch(/^SEVERITY\s+KIND\s+OPENED\s+STATE\s+MESSAGE$/);
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(/^warning\s+drift\s+2m ago\s+open\s+digits v3 drifted on device class pi4/),
    ]);

    const all = await run(['alerts', '--all']);
    expect(all.out).toMatch(
      /critical\s+rollout_stuck\s+2h ago\s+resolved 1m ago\s+rollout r1 paused for 2 h/,
    );

    const json = await run(['alerts', '--all', '--kind', 'rollout_stuck', '--json']);
    expect(JSON.parse(json.out).items.map((a: { key: string }) => a.key)).toEqual(['rollout_stuck:r1']);
  });

  it('refuses an unknown kind before calling the API', async () => {
    const bad = await run(['alerts', '--kind', 'fire']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--kind must be one of devices_offline, error_rate, rollout_stuck, drift');
  });
});
