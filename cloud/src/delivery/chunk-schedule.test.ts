import { describe, expect, it } from 'vitest';
import { ChunkSchedule } from './chunk-schedule.ts';

describe('ChunkSchedule', () => {
  it('lets one request per chunk through while it is queued or in flight', () => {
    const schedule = new ChunkSchedule(250);
    expect(schedule.claim('a/1024/0', 0)).toBe('send');
    expect(schedule.claim('a/1024/0', 5)).toBe('coalesced');
    expect(schedule.claim('a/1024/1', 5)).toBe('send');
    expect(schedule.claim('a/2048/0', 5)).toBe('send'); // another geometry is another frame
    expect(schedule.pending).toBe(3);
  });

  it('covers requests within the window after a publish, and sends again after it', () => {
    const schedule = new ChunkSchedule(250);
    schedule.claim('k', 0);
    schedule.sent('k', 100);
    expect(schedule.claim('k', 349)).toBe('coalesced');
    expect(schedule.claim('k', 350)).toBe('send');
    schedule.sent('k', 360);
    expect(schedule.claim('k', 400)).toBe('coalesced');
  });

  it('forgets a claim whose publish failed, so the next request sends it', () => {
    const schedule = new ChunkSchedule(250);
    schedule.claim('k', 0);
    schedule.failed('k');
    expect(schedule.claim('k', 1)).toBe('send');
  });

  it('prunes old sends in order without dropping recent ones', () => {
    const schedule = new ChunkSchedule(100);
    for (const [key, at] of [
      ['a', 0],
      ['b', 50],
      ['c', 90],
    ] as const) {
      schedule.claim(key, at);
      schedule.sent(key, at);
    }
    expect(schedule.claim('a', 120)).toBe('send');
    expect(schedule.claim('b', 120)).toBe('coalesced');
    expect(schedule.claim('c', 120)).toBe('coalesced');
  });
});
