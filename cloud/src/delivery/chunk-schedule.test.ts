import { describe, expect, it } from 'vitest';
import { ChunkSchedule } from './chunk-schedule.ts';

describe('ChunkSchedule', () => {
  it('lets one request per chunk through while it is queued', () => {
    const schedule = new ChunkSchedule(1000);
    expect(schedule.claim('a/1024/0', 0)).toEqual({ kind: 'send' });
    expect(schedule.claim('a/1024/0', 5)).toEqual({ kind: 'coalesced' });
    expect(schedule.claim('a/1024/1', 5)).toEqual({ kind: 'send' });
    expect(schedule.claim('a/2048/0', 5)).toEqual({ kind: 'send' }); // another geometry is another frame
    expect(schedule.pending).toBe(3);
  });

  it('covers requests while the publish awaits its PUBACK, not after it', () => {
    const schedule = new ChunkSchedule(1000);
    schedule.claim('k', 0);
    schedule.started('k', 10);
    expect(schedule.inFlight).toBe(1);
    expect(schedule.claim('k', 20)).toEqual({ kind: 'coalesced' });
    schedule.sent('k');
    // A device that subscribed after the chunk was routed may ask now: it needs another publish,
    // held back until the interval after the last one started.
    expect(schedule.claim('k', 30)).toEqual({ kind: 'defer', delayMs: 980 });
  });

  it('holds every request within the interval on one publish, and sends at once after it', () => {
    const schedule = new ChunkSchedule(1000);
    schedule.claim('k', 0);
    schedule.started('k', 0);
    schedule.sent('k');
    expect(schedule.claim('k', 100)).toEqual({ kind: 'defer', delayMs: 900 });
    for (const at of [200, 500, 999]) expect(schedule.claim('k', at)).toEqual({ kind: 'coalesced' });
    expect(schedule.pending).toBe(1);
    schedule.started('k', 1000);
    schedule.sent('k');
    expect(schedule.claim('k', 2000)).toEqual({ kind: 'send' });
    schedule.started('k', 2001);
    schedule.sent('k');
    expect(schedule.claim('k', 2500)).toEqual({ kind: 'defer', delayMs: 501 });
  });

  it('forgets a claim whose publish failed, so the next request sends it at once', () => {
    const schedule = new ChunkSchedule(1000);
    schedule.claim('k', 0);
    schedule.failed('k');
    expect(schedule.claim('k', 1)).toEqual({ kind: 'send' });
    schedule.started('k', 2);
    schedule.failed('k'); // the publish itself failed: nobody got it
    expect(schedule.inFlight).toBe(0);
    expect(schedule.claim('k', 3)).toEqual({ kind: 'send' });
  });

  it('prunes old publishes in order without dropping recent ones', () => {
    const schedule = new ChunkSchedule(100);
    for (const [key, at] of [
      ['a', 0],
      ['b', 50],
      ['c', 90],
    ] as const) {
      schedule.claim(key, at);
      schedule.started(key, at);
      schedule.sent(key);
    }
    expect(schedule.claim('a', 120)).toEqual({ kind: 'send' });
    expect(schedule.claim('b', 120)).toEqual({ kind: 'defer', delayMs: 30 });
    expect(schedule.claim('c', 120)).toEqual({ kind: 'defer', delayMs: 70 });
  });
});
