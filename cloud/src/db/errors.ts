// Database failures as EdgeloopErrors with stable codes. Both drivers surface the server's SQLSTATE
// as `code` (postgres.js PostgresError, PGlite DatabaseError), and drizzle wraps either in a
// DrizzleQueryError whose `cause` is the driver error; network failures carry a Node errno code.
import { EdgeloopError, type ErrorCode } from '@edgeloop/shared';

/** SQLSTATE raised by the immutability triggers (drizzle/0001_registry_immutable.sql). */
export const SQLSTATE_IMMUTABLE = 'EL409';

const SQLSTATE_PATTERN = /^[0-9A-Z]{5}$/;

/** Node and postgres.js codes that mean "could not reach the server", worth retrying at start. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
]);

/** SQLSTATEs a server sends while it cannot take connections yet (starting, shutting down, full). */
const TRANSIENT_SQLSTATES = new Set(['57P03', '57P01', '53300', '08000', '08001', '08003', '08006']);

function* causeChain(error: unknown): Generator<unknown> {
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    yield current;
    current = (current as { cause?: unknown }).cause;
  }
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The server's SQLSTATE for a failed query, looking through drizzle's wrapper. */
export function sqlState(error: unknown): string | undefined {
  for (const e of causeChain(error)) {
    const code = codeOf(e);
    if (code !== undefined && SQLSTATE_PATTERN.test(code)) return code;
  }
  return undefined;
}

/** True when the failure is about reaching the server rather than about the query. */
export function isTransientConnectionError(error: unknown): boolean {
  for (const e of causeChain(error)) {
    const code = codeOf(e);
    if (code !== undefined && (NETWORK_CODES.has(code) || TRANSIENT_SQLSTATES.has(code))) return true;
    // AggregateError: Node's happy-eyeballs connect reports one error per address tried.
    if (e instanceof AggregateError && e.errors.some(isTransientConnectionError)) return true;
  }
  return false;
}

function edgeloopCodeFor(error: unknown): ErrorCode {
  if (isTransientConnectionError(error)) return 'UNAVAILABLE';
  switch (sqlState(error)) {
    case SQLSTATE_IMMUTABLE:
      return 'IMMUTABLE';
    case '23505': // unique_violation
    case '40001': // serialization_failure
    case '40P01': // deadlock_detected
      return 'CONFLICT';
    case '23503': // foreign_key_violation: the referenced row is missing (or still referenced)
      return 'CONFLICT';
    case '57014': // query_canceled (statement_timeout)
    case '55P03': // lock_not_available (lock_timeout)
      return 'TIMEOUT';
    default:
      return 'INTERNAL';
  }
}

/**
 * Wraps a driver/drizzle failure into an EdgeloopError with a stable code; the original error stays
 * as `cause` and the SQLSTATE in `details`. EdgeloopErrors pass through unchanged.
 */
export function toEdgeloopError(error: unknown, action: string): EdgeloopError {
  if (error instanceof EdgeloopError) return error;
  const state = sqlState(error);
  const root = [...causeChain(error)].pop();
  const reason = root instanceof Error ? root.message : String(root);
  return new EdgeloopError(edgeloopCodeFor(error), `${action} failed: ${reason}`, {
    cause: error,
    ...(state === undefined ? {} : { details: { sqlState: state } }),
  });
}

/** A connection URL fit for logs and error messages: the password is replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable database URL>';
  }
}
