import { describe, expect, it } from 'vitest';
import { ChunkCache } from './chunk-cache.ts';

const frame = (bytes: number, fill = 1) => new Uint8Array(bytes).fill(fill);

describe('ChunkCache', () => {
  it('evicts the least recently used frames to stay within its byte budget', () => {
    const cache = new ChunkCache(300);
    cache.set('a', frame(100));
    cache.set('b', frame(100));
    cache.set('c', frame(100));
    expect(cache.get('a')).toBeDefined(); // a is now the most recently used
    cache.set('d', frame(100));
    expect(cache.get('b')).toBeUndefined();
    expect([cache.get('a'), cache.get('c'), cache.get('d')].every(Boolean)).toBe(true);
    expect(cache.bytes).toBe(300);
    expect(cache.size).toBe(3);
  });

  it('never keeps a frame larger than the whole budget, and replaces a key in place', () => {
    const cache = new ChunkCache(100);
    cache.set('big', frame(101));
    expect(cache.size).toBe(0);
    cache.set('k', frame(40, 1));
    cache.set('k', frame(60, 2));
    expect(cache.bytes).toBe(60);
    expect(cache.get('k')?.[0]).toBe(2);
  });

  it('counts hits and misses', () => {
    const cache = new ChunkCache(100);
    cache.get('x');
    cache.set('x', frame(10));
    cache.get('x');
    expect({ hits: cache.hits, misses: cache.misses }).toEqual({ hits: 1, misses: 1 });
  });
});
