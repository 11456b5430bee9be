import { describe, expect, it } from 'vitest';
import { createLogger } from '../log/index.ts';
import { retryUntilReady } from './retry.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ format: 'json', sink: { write: (l: string) => lines.push(JSON.parse(l)) } });
  return { logger, lines };
}

describe('retryUntilReady', () => {
  it('retries with doubling, capped delays until the dependency answers', async () => {
    const { logger, lines } = capture();
    const delays: number[] = [];
    let calls = 0;
    const value = await retryUntilReady(
      'database',
      async () => {
        if (++calls < 5) throw Object.assign(new Error('connect refused'), { code: 'ECONNREFUSED' });
        return 'up';
      },
      {
        retryForMs: 60_000,
        logger,
        initialDelayMs: 100,
        maxDelayMs: 300,
        sleep: async (ms) => void delays.push(ms),
      },
    );
    expect(value).toBe('up');
    expect(delays).toEqual([100, 200, 300, 300]);
    expect(lines[0]).toMatchObject({
      level: 'warn',
      what: 'database',
      reason: 'ECONNREFUSED connect refused',
    });
  });

  it('gives up after the bound with a message naming what and why', async () => {
    const { logger } = capture();
    const failing = retryUntilReady(
      'MQTT broker mqtt://127.0.0.1:1',
      async () => {
        throw new Error('ECONNREFUSED');
      },
      { retryForMs: 30, logger, initialDelayMs: 10, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) },
    );
    await expect(failing).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringMatching(
        /^MQTT broker mqtt:\/\/127\.0\.0\.1:1 is unreachable \(ECONNREFUSED\); gave up/,
      ),
    });
  });

  it('does not retry a permanent failure', async () => {
    const { logger } = capture();
    let calls = 0;
    const run = retryUntilReady(
      'database',
      async () => {
        calls++;
        throw new Error('password authentication failed');
      },
      { retryForMs: 60_000, logger, isPermanent: () => true },
    );
    await expect(run).rejects.toThrow(/password/);
    expect(calls).toBe(1);
  });
});
