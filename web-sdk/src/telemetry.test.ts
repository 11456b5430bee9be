import { type TelemetryWindow, webTelemetryBatchSchema, webTelemetryBeaconSchema } from '@edgeloop/shared';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CloudClient } from './cloud.ts';
import type { EdgeloopWebError } from './errors.ts';
import { INSTALL_STORAGE_KEY, InstallIdentity } from './install-id.ts';
import { type TelemetryEnvironment, WebTelemetry } from './telemetry.ts';

const CLOUD = 'https://cloud.example.com';
const KEY = `app_0123456789ab_${'A'.repeat(43)}`;
const model = { name: 'digits', version: '1', variant: 'int8' as const, sha256: 'a'.repeat(64) };

class MapStorage {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
}

const CODES: Record<number, string> = { 400: 'VALIDATION_FAILED', 403: 'FORBIDDEN', 404: 'NOT_FOUND' };

/** A cloud that answers each POST with the next scripted status (default 202). */
function fakeCloud() {
  const posts: { url: string; authorization: string | null; windows: TelemetryWindow[] }[] = [];
  const statuses: number[] = [];
  const state = { down: false };
  const fetch = vi.fn(async (url: string | URL | Request, init?: RequestInit) => {
    if (state.down) throw new TypeError('Failed to fetch');
    const status = statuses.shift() ?? 202;
    const body = webTelemetryBatchSchema.parse(JSON.parse(String(init?.body)));
    posts.push({
      url: String(url),
      authorization: new Headers(init?.headers).get('authorization'),
      windows: body.windows,
    });
    const json =
      status === 202
        ? { deviceId: body.windows[0]?.deviceId, accepted: body.windows.length, rateLimited: 0 }
        : {
            error: {
              code: CODES[status] ?? 'UNAVAILABLE',
              message: 'no',
            },
          };
    return new Response(JSON.stringify(json), { status, headers: { 'content-type': 'application/json' } });
  });
  return { posts, statuses, state, fetch: fetch as unknown as typeof globalThis.fetch };
}

function setup(options: { maxBufferedWindows?: number; beaconAccepts?: boolean } = {}) {
  const cloud = fakeCloud();
  const storage = new MapStorage();
  const beacons: { url: string; body: string }[] = [];
  const page = Object.assign(new EventTarget(), { visibilityState: 'visible' });
  const env: Partial<TelemetryEnvironment> = {
    storage,
    page,
    now: Date.now,
    sendBeacon: (url, body) => {
      if (options.beaconAccepts === false) return false;
      beacons.push({ url, body });
      return true;
    },
  };
  const client = new CloudClient({ cloud: CLOUD, appKey: KEY, fetch: cloud.fetch });
  const telemetry = new WebTelemetry(
    client,
    KEY,
    {
      windowMs: 1_000,
      ...(options.maxBufferedWindows ? { maxBufferedWindows: options.maxBufferedWindows } : {}),
    },
    env,
  );
  telemetry.useModel(model, 10);
  const infer = (n = 1, classIndex = 3) => {
    for (let i = 0; i < n; i++)
      telemetry.recordInference({ latencyMs: 2, classIndex, confidence: 0.75, model });
  };
  return { cloud, storage, beacons, page, telemetry, infer };
}

describe('WebTelemetry', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('closes a window per interval and POSTs it with the app key; idle windows cost nothing', async () => {
    const { cloud, storage, telemetry, infer } = setup();
    infer(3);
    telemetry.recordError();
    await vi.advanceTimersByTimeAsync(1_000);
    await vi.advanceTimersByTimeAsync(3_000); // three idle windows: no requests
    infer(1, 7);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(cloud.posts).toHaveLength(2);
    expect(cloud.posts[0]).toMatchObject({
      url: `${CLOUD}/api/v1/telemetry`,
      authorization: `Bearer ${KEY}`,
    });
    const [first, second] = cloud.posts.map((p) => p.windows[0] as TelemetryWindow);
    const deviceId = telemetry.status().deviceId;
    expect(deviceId).toMatch(/^web-[0-9a-f]{32}$/);
    expect(first).toMatchObject({ deviceId, seq: 0, model, inferences: 4, errors: 1, meanConfidence: 0.75 });
    expect(first?.classCounts).toEqual([0, 0, 0, 3, 0, 0, 0, 0, 0, 0]);
    expect(second).toMatchObject({ deviceId, seq: 1, inferences: 1 });
    expect(JSON.parse(storage.getItem(INSTALL_STORAGE_KEY) ?? '')).toMatchObject({ next: 2 });
    expect(telemetry.status()).toMatchObject({ sentWindows: 2, bufferedWindows: 0, droppedWindows: 0 });
    await telemetry.dispose();
  });

  it('retries with a bounded buffer and tells the next window how many it dropped', async () => {
    const { cloud, telemetry, infer } = setup({ maxBufferedWindows: 2 });
    cloud.state.down = true;
    for (let i = 0; i < 3; i++) {
      infer();
      await vi.advanceTimersByTimeAsync(1_000);
    }
    expect(cloud.posts).toHaveLength(0);
    expect(telemetry.status()).toMatchObject({ sentWindows: 0, bufferedWindows: 2, droppedWindows: 1 });
    cloud.state.down = false; // the cloud is back
    await telemetry.flush();
    infer(); // the next window reports the drop
    await telemetry.flush();
    const windows = cloud.posts.flatMap((p) => p.windows);
    expect(windows.map((w) => w.seq)).toEqual([1, 2, 3]); // seq 0 was the oldest, dropped
    expect(windows.map((w) => w.droppedWindows)).toEqual([0, 0, 1]);
    expect(telemetry.status()).toMatchObject({ sentWindows: 3, bufferedWindows: 0, droppedWindows: 1 });
    await telemetry.dispose();
  });

  it('hands the last window and the backlog to sendBeacon when the page is hidden', async () => {
    const { cloud, beacons, page, telemetry, infer } = setup();
    cloud.state.down = true;
    infer(2);
    await vi.advanceTimersByTimeAsync(1_000); // window 0 fails to send and stays buffered
    infer(5);
    page.visibilityState = 'hidden';
    page.dispatchEvent(new Event('visibilitychange'));
    page.dispatchEvent(new Event('pagehide')); // follows on unload: nothing left to send twice
    expect(beacons).toHaveLength(1);
    expect(beacons[0]?.url).toBe(`${CLOUD}/api/v1/telemetry/beacon`);
    const body = webTelemetryBeaconSchema.parse(JSON.parse(beacons[0]?.body ?? ''));
    expect(body.appKey).toBe(KEY);
    expect(body.windows.map((w) => [w.seq, w.inferences])).toEqual([
      [0, 2],
      [1, 5],
    ]);
    expect(telemetry.status()).toMatchObject({ sentWindows: 2, bufferedWindows: 0 });
    await telemetry.dispose();
  });

  it('keeps windows the browser would not take as a beacon', async () => {
    const { beacons, page, telemetry, infer } = setup({ beaconAccepts: false });
    infer();
    page.dispatchEvent(new Event('pagehide'));
    expect(beacons).toHaveLength(0);
    expect(telemetry.status()).toMatchObject({ sentWindows: 0, bufferedWindows: 1 });
    await telemetry.dispose();
  });

  it('stops when the cloud refuses the key, and drops windows it calls invalid', async () => {
    const { cloud, telemetry, infer } = setup();
    cloud.statuses.push(400);
    infer();
    await telemetry.flush();
    expect(telemetry.status()).toMatchObject({ sentWindows: 0, bufferedWindows: 0, droppedWindows: 1 });

    const refusals: EdgeloopWebError[] = [];
    telemetry.onRefused((e) => refusals.push(e));
    cloud.statuses.push(403);
    infer();
    await telemetry.flush();
    expect(refusals.map((e) => e.code)).toEqual(['FORBIDDEN']);
    expect(telemetry.status()).toMatchObject({ refused: { code: 'FORBIDDEN' }, droppedWindows: 2 });
    infer();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(cloud.fetch).toHaveBeenCalledTimes(2); // nothing after the refusal

    // A cloud without the telemetry route (404) is not retried forever either.
    const old = setup();
    old.cloud.statuses.push(404);
    old.infer();
    await old.telemetry.flush();
    expect(old.telemetry.status()).toMatchObject({ refused: { code: 'NOT_FOUND' }, bufferedWindows: 0 });
  });

  it('refuses nonsense options with a clear error', () => {
    const client = new CloudClient({ cloud: CLOUD, appKey: KEY });
    expect(() => new WebTelemetry(client, KEY, { windowMs: 5 }, { page: undefined })).toThrow(/windowMs/);
    expect(() => new WebTelemetry(client, KEY, { maxBufferedWindows: 0 }, { page: undefined })).toThrow(
      /maxBufferedWindows/,
    );
  });
});

describe('InstallIdentity', () => {
  it('keeps one random id per storage and never repeats a sequence number', () => {
    const storage = new MapStorage();
    const a = new InstallIdentity(storage);
    expect([a.takeSeq(), a.takeSeq()]).toEqual([0, 1]);
    const b = new InstallIdentity(storage); // the next page load, or another tab
    expect(b.deviceId).toBe(a.deviceId);
    expect([b.takeSeq(), a.takeSeq(), b.takeSeq()]).toEqual([2, 3, 4]);
    expect(new InstallIdentity(new MapStorage()).deviceId).not.toBe(a.deviceId);
  });

  it('starts over on an unreadable entry, jumps past a damaged counter, and survives blocked storage', () => {
    const storage = new MapStorage();
    storage.setItem(INSTALL_STORAGE_KEY, '{"id":');
    expect(new InstallIdentity(storage).takeSeq()).toBe(0);
    const id = (JSON.parse(storage.getItem(INSTALL_STORAGE_KEY) ?? '') as { id: string }).id;
    storage.setItem(INSTALL_STORAGE_KEY, JSON.stringify({ id, next: -3 }));
    const recovered = new InstallIdentity(storage);
    expect(recovered.id).toBe(id);
    expect(recovered.takeSeq()).toBeGreaterThan(1_600_000_000_000);

    const blocked = {
      getItem: () => {
        throw new Error('SecurityError');
      },
      setItem: () => {
        throw new Error('SecurityError');
      },
    };
    const memoryOnly = new InstallIdentity(blocked);
    expect(memoryOnly.deviceId).toMatch(/^web-[0-9a-f]{32}$/);
    expect([memoryOnly.takeSeq(), memoryOnly.takeSeq()]).toEqual([0, 1]);
  });
});
