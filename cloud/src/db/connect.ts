// Start-up against a database that may not be up yet (containers starting together, a failover):
// retry the first query with exponential backoff for a bounded time, then fail with UNAVAILABLE and
// a message that names the server (password redacted) and the last reason.
import { setTimeout as sleep } from 'node:timers/promises';
import { EdgeloopError } from '@edgeloop/shared';
import type { DatabaseLog } from './database.ts';
import { isTransientConnectionError } from './errors.ts';

export interface RetryPolicy {
  /** Give up once this much time has passed since the first attempt. */
  timeoutMs: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  timeoutMs: 30_000,
  initialDelayMs: 200,
  maxDelayMs: 5_000,
};

/** A one-line reason: Node's connect failure is an AggregateError with an empty message. */
export function describeConnectError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0)
    return describeConnectError(error.errors[0]);
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const message = error.message !== '' ? error.message : error.name;
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
}

export async function connectWithRetry(
  probe: () => Promise<unknown>,
  options: { location: string; log?: DatabaseLog | undefined; policy?: Partial<RetryPolicy> | undefined },
): Promise<void> {
  const policy = { ...DEFAULT_RETRY_POLICY, ...options.policy };
  const started = performance.now();
  let delay = policy.initialDelayMs;
  for (let attempt = 1; ; attempt++) {
    try {
      await probe();
      if (attempt > 1) options.log?.info(`database: connected to ${options.location} (attempt ${attempt})`);
      return;
    } catch (error) {
      const reason = describeConnectError(error);
      if (!isTransientConnectionError(error)) {
        // Wrong password, missing database: waiting will not fix it.
        throw new EdgeloopError('UNAVAILABLE', `database at ${options.location} refused us: ${reason}`, {
          cause: error,
        });
      }
      const elapsed = performance.now() - started;
      if (elapsed + delay > policy.timeoutMs) {
        throw new EdgeloopError(
          'UNAVAILABLE',
          `database at ${options.location} is unreachable after ${attempt} attempt(s) over ` +
            `${(elapsed / 1000).toFixed(1)} s: ${reason}. Is the server running, and is DATABASE_URL right?`,
          { cause: error },
        );
      }
      options.log?.warn(
        `database: ${options.location} unreachable (${reason}); retry ${attempt} in ${delay} ms`,
      );
      await sleep(delay);
      delay = Math.min(delay * 2, policy.maxDelayMs);
    }
  }
}
