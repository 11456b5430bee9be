// Start-up against a database or broker that is not up yet (containers start in any order): retry
// with capped exponential backoff, say clearly what is being waited for, and give up after a bound
// with the last error as the cause.
import { EdgeloopError } from '@edgeloop/shared';
import type { Logger } from '../log/index.ts';

export interface RetryOptions {
  /** Give up once this much time has passed since the first attempt. */
  retryForMs: number;
  logger: Logger;
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Errors that retrying cannot fix (bad credentials, bad config): thrown at once. */
  isPermanent?: (err: unknown) => boolean;
  signal?: AbortSignal;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export async function retryUntilReady<T>(
  what: string,
  attempt: () => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const started = Date.now();
  const sleep = options.sleep ?? abortableSleep;
  let delay = options.initialDelayMs ?? 250;
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (err) {
      if (options.isPermanent?.(err)) throw err;
      const elapsed = Date.now() - started;
      const reason = describe(err);
      if (elapsed + delay > options.retryForMs || options.signal?.aborted) {
        throw new EdgeloopError(
          'UNAVAILABLE',
          `${what} is unreachable (${reason}); gave up after ${tries} attempts in ${Math.round(elapsed / 1000)} s`,
          { cause: err },
        );
      }
      options.logger.warn(
        { what, attempt: tries, retryInMs: delay, reason },
        `${what} unreachable, retrying`,
      );
      await sleep(delay, options.signal);
      delay = Math.min(delay * 2, options.maxDelayMs ?? 5_000);
    }
  }
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // postgres.js and net errors put the useful part (ECONNREFUSED 127.0.0.1:5432) in code/cause.
  const code = (err as { code?: unknown }).code;
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${typeof code === 'string' ? `${code} ` : ''}${err.message}${cause}`.slice(0, 300);
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
