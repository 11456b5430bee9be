// The API's one error handler: whatever was thrown becomes the shared error envelope with a stable
// code, the matching status and the request id; it is counted and logged once, here. Internals
// (stack traces, SQL) go to the log only, never to the client.
import { EdgeloopError, type ErrorCode, errorEnvelope } from '@edgeloop/shared';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ZodError } from 'zod';
import type { ApiEnv } from './deps.ts';
import { codeForStatus, STATUS_BY_CODE } from './http-status.ts';
import type { ApiMetrics } from './metrics.ts';

export interface FieldIssue {
  /** Where the value was: `json` body, `query`, `param`. */
  in: string;
  /** Dotted path to the field, `(body)` for the whole value. */
  path: string;
  message: string;
}

/** Field-level issues from a zod failure; unknown keys become one issue per key, named. */
export function fieldIssues(error: ZodError, where: string): FieldIssue[] {
  return error.issues.flatMap((issue) => {
    const base = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        in: where,
        path: [...base, key].join('.'),
        message: 'unknown field',
      }));
    }
    return [{ in: where, path: base.join('.') || '(body)', message: issue.message }];
  });
}

export function validationError(error: ZodError, where: string): EdgeloopError {
  const issues = fieldIssues(error, where);
  const summary = issues.map((i) => `${i.path}: ${i.message}`).join('; ');
  return new EdgeloopError('VALIDATION_FAILED', `invalid ${where === 'json' ? 'body' : where}: ${summary}`, {
    details: issues,
  });
}

/** Postgres reports constraint violations by SQLSTATE; drizzle wraps them, so look down the causes. */
function sqlState(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

function classify(err: unknown): { code: ErrorCode; message: string; details?: unknown; internal: boolean } {
  if (err instanceof EdgeloopError) {
    const details = err.details === undefined ? {} : { details: err.details };
    return { code: err.code, message: err.message, ...details, internal: err.code === 'INTERNAL' };
  }
  if (err instanceof HTTPException) {
    // Hono's JSON validator throws this for a body that is not JSON at all.
    if (err.status === 400 && /malformed json/i.test(err.message)) {
      return { code: 'MALFORMED_JSON', message: 'request body is not valid JSON', internal: false };
    }
    return {
      code: codeForStatus(err.status),
      message: err.message || 'request rejected',
      internal: err.status >= 500,
    };
  }
  if (err instanceof ZodError) {
    const v = validationError(err, 'json');
    return { code: v.code, message: v.message, details: v.details, internal: false };
  }
  const state = sqlState(err);
  if (state === '23505') return { code: 'CONFLICT', message: 'that already exists', internal: false };
  if (state === '23503') {
    return { code: 'VALIDATION_FAILED', message: 'a referenced record does not exist', internal: false };
  }
  return { code: 'INTERNAL', message: 'internal error', internal: true };
}

export function errorHandler(metrics: ApiMetrics) {
  return (err: unknown, c: Context<ApiEnv>): Response => {
    const { code, message, details, internal } = classify(err);
    const requestId = c.get('requestId');
    metrics.rejections.inc({ code });
    const logger = c.get('logger');
    const fields = { code, method: c.req.method, path: c.req.path };
    if (internal) logger.error({ ...fields, err }, 'request failed');
    else logger.warn({ ...fields, reason: message }, 'request rejected');
    const status = STATUS_BY_CODE[code];
    const headers: Record<string, string> = {};
    if (status === 401) headers['WWW-Authenticate'] = 'Bearer';
    const body = errorEnvelope(code, internal ? `internal error (request ${requestId})` : message, {
      ...(details === undefined || internal ? {} : { details }),
      requestId,
    });
    return c.json(body, status, headers);
  };
}
