// `pnpm start` end to end, as a new user runs it: a fresh data dir → the cloud trains the default
// model, a simulated fleet of real agents connects, the champion is rolled out to it in waves, and
// every device ends up serving it. Ctrl-C (here: the stop signal) shuts everything down cleanly.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliIO } from '@edgeloop/cloud';
import { afterAll, expect, it } from 'vitest';
import { main } from '../../bin/cli.ts';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

it('trains, starts a fleet and rolls the champion out to every device in waves', {
  timeout: 300_000,
}, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'edgeloop-demo-'));
  dirs.push(dataDir);
  const stop = new AbortController();
  let out = '';
  let finished: { rollout: string; active: string[] } | undefined;

  const watch = async (api: string, token: string) => {
    const headers = { authorization: `Bearer ${token}` };
    const deadline = Date.now() + 240_000;
    while (Date.now() < deadline && !finished) {
      await new Promise((r) => setTimeout(r, 2000));
      const rollouts = (await (await fetch(`${api}/api/v1/rollouts`, { headers })).json()) as {
        items: { id: string; status: string }[];
      };
      const done = rollouts.items.find((r) => r.status === 'completed');
      if (!done) continue;
      const devices = (await (await fetch(`${api}/api/v1/devices?limit=100`, { headers })).json()) as {
        items: { id: string; activeModel: { name: string; version: string } | null }[];
      };
      finished = {
        rollout: done.id,
        active: devices.items.filter((d) => d.activeModel?.name === 'digits').map((d) => d.id),
      };
    }
    stop.abort();
  };

  const io: CliIO = {
    out: (text) => {
      out += text;
      const api = /API {10}(\S+)/.exec(out)?.[1];
      if (api && text.includes('Fleet up')) {
        void readFile(join(dataDir, 'admin-token'), 'utf8').then((t) => watch(api, t.trim()));
      }
    },
    err: (text) => {
      out += text;
    },
    env: {},
    logSink: { write: () => true },
    stop: stop.signal,
  };
  const code = await main(
    [
      'start',
      '--devices',
      '3',
      '--port',
      '0',
      '--mqtt-port',
      '0',
      '--mqtt-ws-port',
      '0',
      '--data-dir',
      dataDir,
    ],
    io,
  );

  expect(code).toBe(0);
  expect(out).toContain('training the default model "digits"');
  expect(out).toMatch(/Rolling out digits v1 to 3 devices in waves 10% → 50% → 100%/);
  expect(finished, out).toBeDefined();
  expect(finished?.active.sort()).toEqual(['cam-0000', 'cam-0001', 'cam-0002']);
});
