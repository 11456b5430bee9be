// The camera's schedule under fake timers: rate, jitter bounds, dropping frames while the consumer
// is busy, and a stop that waits for the frame in flight.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SyntheticCamera } from './camera.ts';
import { FrameCycle } from './frame-source.ts';

const source = () => new FrameCycle([{ image: new Uint8Array([1]), label: 0 }]);

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('SyntheticCamera', () => {
  it('delivers about fps frames a second, each interval within the jitter', async () => {
    const times: number[] = [];
    const camera = new SyntheticCamera({
      source: source(),
      fps: 10,
      jitter: 0.2,
      deliver: async () => {
        times.push(Date.now());
      },
    });
    camera.start();
    await vi.advanceTimersByTimeAsync(10_000);
    await camera.stop();
    expect(times.length).toBeGreaterThanOrEqual(90);
    expect(times.length).toBeLessThanOrEqual(111);
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(80);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(120);
    expect(new Set(gaps).size).toBeGreaterThan(1);
  });

  it('drops frames while the consumer is busy and waits for the one in flight on stop', async () => {
    let release: () => void = () => undefined;
    let finished = 0;
    let dropped = 0;
    const camera = new SyntheticCamera({
      source: source(),
      fps: 10,
      jitter: 0,
      random: () => 0,
      deliver: () =>
        new Promise<void>((resolve) => {
          release = () => {
            finished++;
            resolve();
          };
        }),
      onDropped: () => {
        dropped++;
      },
    });
    camera.start();
    await vi.advanceTimersByTimeAsync(450); // ticks at 0, 100, …, 400: one delivered, four dropped
    expect(camera.counters).toEqual({ delivered: 1, dropped: 4, failed: 0 });
    expect(dropped).toBe(4);
    let stopped = false;
    const stopping = camera.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(500);
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(finished).toBe(1);
    expect(camera.counters.delivered).toBe(1);
  });

  it('rejects a rate or jitter out of range at construction', () => {
    const deliver = async () => undefined;
    expect(() => new SyntheticCamera({ source: source(), fps: 0, deliver })).toThrow(/fps/);
    expect(() => new SyntheticCamera({ source: source(), fps: 1, jitter: 2, deliver })).toThrow(/jitter/);
  });
});
