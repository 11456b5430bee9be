// The simulator against the real cloud in this process (embedded PGlite in a temporary dir, the
// embedded broker on a free port): devices are provisioned over the operator API, connect with their
// own credentials, show up online through the MQTT bridge, and a second run reuses the same devices.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCloudConfig, type RunningCloud, silentLogger, startCloud } from '@edgeloop/cloud';
import type { SimulatedFleet } from '@edgeloop/edge-agent';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../bin/cli.ts';
import { startDigitsFleet } from '../../bin/sim.ts';

let cloud: RunningCloud;
let cloudDir: string;
let simDir: string;

interface DeviceRow {
  id: string;
  deviceClass: string;
  status: string;
}

async function listDevices(): Promise<{ items: DeviceRow[]; total: number }> {
  const response = await fetch(`${cloud.urls.api}/api/v1/devices?limit=500`, {
    headers: { authorization: `Bearer ${cloud.adminToken}` },
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { items: DeviceRow[]; total: number };
}

/** Polls until `probe` returns a value; on timeout the error shows what `seen` saw last. */
async function until<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  seen: () => Promise<unknown>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; last seen ${JSON.stringify(await seen())}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const statuses = async () =>
  Object.fromEntries((await listDevices()).items.map((d) => [d.id, `${d.deviceClass}:${d.status}`]));

beforeAll(async () => {
  cloudDir = await mkdtemp(join(tmpdir(), 'el-sim-cloud-'));
  simDir = await mkdtemp(join(tmpdir(), 'el-sim-fleet-'));
  const config = loadCloudConfig({
    flags: { port: '0', 'mqtt-port': '0', 'mqtt-ws-port': '0', 'data-dir': cloudDir, 'quick-start': true },
  });
  cloud = await startCloud(config, { logger: silentLogger });
});
afterAll(async () => {
  await cloud?.close();
  await rm(cloudDir, { recursive: true, force: true });
  await rm(simDir, { recursive: true, force: true });
});

describe('edgeloop sim against the cloud', () => {
  it('provisions three devices that come online, and reconnects the same devices on a restart', async () => {
    const start = () =>
      startDigitsFleet({
        cloudUrl: cloud.urls.api,
        apiToken: cloud.adminToken as string,
        devices: 3,
        dataDir: simDir,
        idPrefix: 'e2e',
        classes: [
          { deviceClass: 'simulated', weight: 2 },
          { deviceClass: 'raspberry-pi-4', weight: 1 },
        ],
        fps: 2,
        tuning: { reconnect: { initialMs: 50, maxMs: 500 } },
      });
    const online = {
      'e2e-0000': 'simulated:online',
      'e2e-0001': 'raspberry-pi-4:online',
      'e2e-0002': 'simulated:online',
    };

    let fleet: SimulatedFleet = await start();
    try {
      await until(
        async () => {
          const now = await statuses();
          return JSON.stringify(now) === JSON.stringify(online) ? now : undefined;
        },
        'three devices online in the cloud',
        async () => ({ cloud: await statuses(), fleet: fleet.stats() }),
      );
    } finally {
      await fleet.stop();
    }
    // A graceful stop publishes `offline`; the bridge records it.
    await until(
      async () => {
        const now = Object.values(await statuses());
        return now.every((s) => s.endsWith(':offline')) ? now : undefined;
      },
      'devices offline after stop',
      statuses,
    );

    const password = await readFile(join(simDir, 'credentials', 'e2e-0001.json'), 'utf8');
    fleet = await start();
    try {
      await until(
        async () => {
          const now = await statuses();
          return JSON.stringify(now) === JSON.stringify(online) ? now : undefined;
        },
        'the same three devices online again',
        async () => ({ cloud: await statuses(), fleet: fleet.stats() }),
      );
      expect((await listDevices()).total).toBe(3);
      // The stored password still worked, so none was re-issued.
      expect(await readFile(join(simDir, 'credentials', 'e2e-0001.json'), 'utf8')).toBe(password);
    } finally {
      await fleet.stop();
    }
  });

  it('runs as `edgeloop sim` until stopped, with a corrupted share of the fleet', async () => {
    let out = '';
    let err = '';
    const stop = new AbortController();
    const exit = main(
      ['sim', '--devices', '2', '--prefix', 'cli', '--fps', '5', '--corrupt', 'blur:0.8:0.5'],
      {
        out: (text) => {
          out += text;
        },
        err: (text) => {
          err += text;
        },
        env: { EDGELOOP_CLOUD: cloud.urls.api, EDGELOOP_TOKEN: cloud.adminToken, EDGELOOP_DATA_DIR: simDir },
        stop: stop.signal,
      },
    );
    await until(
      async () => (out.includes('2 devices running') ? true : undefined),
      'the fleet',
      async () => ({ out, err }),
    );
    stop.abort();
    expect(await exit).toBe(0);
    expect(err).toBe('');
    expect(out).toMatch(/\[sim \d+s\] connected \d\/2 · models none×2 · .*\(corrupted 1: -\)/);
    expect(out).toMatch(/stopped\.\n$/);
    const ids = (await listDevices()).items.map((d) => d.id);
    expect(ids).toEqual(expect.arrayContaining(['cli-0000', 'cli-0001']));
  });
});
