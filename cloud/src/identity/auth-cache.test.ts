import { describe, expect, it } from 'vitest';
import { AuthCache } from './auth-cache.ts';
import type { AuthOutcome } from './authenticator.ts';

const ok: AuthOutcome = { ok: true, principal: { kind: 'device', deviceId: 'cam-1' } };

describe('AuthCache', () => {
  it('returns a verdict until the TTL passes, per username and password', () => {
    let now = 0;
    const cache = new AuthCache(1_000, 10, () => now);
    expect(cache.set('cam-1', 'pw', ok, cache.generation('cam-1'))).toBe(true);
    expect(cache.get('cam-1', 'pw')).toEqual(ok);
    expect(cache.get('cam-1', 'other')).toBeUndefined();
    expect(cache.get('cam-2', 'pw')).toBeUndefined();
    now = 999;
    expect(cache.get('cam-1', 'pw')).toEqual(ok);
    now = 1_000;
    expect(cache.get('cam-1', 'pw')).toBeUndefined();
  });

  it('refuses to store a verdict computed before an invalidation (revocation race)', () => {
    const cache = new AuthCache(1_000, 10, () => 0);
    const before = cache.generation('cam-1');
    cache.invalidate('cam-1'); // revocation lands while the hash is being checked
    expect(cache.set('cam-1', 'pw', ok, before)).toBe(false);
    expect(cache.get('cam-1', 'pw')).toBeUndefined();
  });

  it('invalidation drops every password of that user and no one else', () => {
    const cache = new AuthCache(1_000, 10, () => 0);
    cache.set('cam-1', 'a', ok, 0);
    cache.set('cam-1', 'b', ok, 0);
    cache.set('cam-10', 'a', ok, 0);
    cache.invalidate('cam-1');
    expect(cache.get('cam-1', 'a')).toBeUndefined();
    expect(cache.get('cam-1', 'b')).toBeUndefined();
    expect(cache.get('cam-10', 'a')).toEqual(ok);
  });

  it('stays bounded, evicting the oldest entry', () => {
    const cache = new AuthCache(1_000, 3, () => 0);
    for (const id of ['a', 'b', 'c', 'd']) cache.set(id, 'pw', ok, 0);
    expect(cache.size).toBe(3);
    expect(cache.get('a', 'pw')).toBeUndefined();
    expect(cache.get('d', 'pw')).toEqual(ok);
  });
});
