// The SDK's one error type. It reuses the wire's stable codes (shared/errors.ts), so an app can
// switch on the same `code` whether a refusal came from the cloud, an edge agent or the browser.
import { EdgeloopError, type ErrorCode } from '@edgeloop/shared';

/**
 * Every failure the SDK reports: `code` is stable (switch on it), `message` is for people, `cause`
 * holds the underlying error when there is one.
 *
 * @example
 * try {
 *   await edgeloop.load({ cloud, appKey, model: 'digits' });
 * } catch (err) {
 *   if (err instanceof EdgeloopWebError && err.code === 'SIGNATURE_INVALID') showTamperWarning();
 * }
 */
export class EdgeloopWebError extends EdgeloopError {
  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: unknown } = {}) {
    super(code, message, options);
    this.name = 'EdgeloopWebError';
  }
}

/** Wraps anything thrown into an EdgeloopWebError, keeping one that already is. */
export function asWebError(err: unknown, code: ErrorCode, message: string): EdgeloopWebError {
  if (err instanceof EdgeloopWebError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new EdgeloopWebError(code, `${message}: ${reason}`, { cause: err });
}
