import { describe, expect, it } from 'vitest';
import { DeviceRateLimiter } from './device-rate-limiter.ts';

describe('DeviceRateLimiter', () => {
  it('allows a burst, then the sustained rate, per device', () => {
    let now = 0;
    const limiter = new DeviceRateLimiter({ perSecond: 2, burst: 3 }, () => now);
    const taken = () => Array.from({ length: 5 }, () => limiter.take('a')).filter(Boolean).length;
    expect(taken()).toBe(3);
    expect(limiter.take('b')).toBe(true); // another device is not affected
    now += 1000;
    expect(taken()).toBe(2);
  });

  it('forgets idle devices once their bucket would be full again', () => {
    let now = 0;
    const limiter = new DeviceRateLimiter({ perSecond: 1, burst: 2 }, () => now);
    for (let i = 0; i < 100; i++) limiter.take(`d${i}`);
    expect(limiter.trackedDevices).toBe(100);
    now += 60_000;
    limiter.take('x');
    expect(limiter.trackedDevices).toBe(1);
  });

  it('refuses a nonsensical configuration at construction', () => {
    expect(() => new DeviceRateLimiter({ perSecond: 0, burst: 1 })).toThrow(RangeError);
  });
});
