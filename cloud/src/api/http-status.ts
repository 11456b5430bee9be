// The one place where error codes become HTTP statuses. Typed as a total record so a new code in
// @edgeloop/shared fails the typecheck here until someone decides its status.
import type { ErrorCode } from '@edgeloop/shared';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export const STATUS_BY_CODE: Record<ErrorCode, ContentfulStatusCode> = {
  MALFORMED_JSON: 400,
  VALIDATION_FAILED: 400,
  SCHEMA_VERSION_UNSUPPORTED: 400,
  PAYLOAD_TOO_LARGE: 413,
  TOPIC_INVALID: 400,
  DEVICE_MISMATCH: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  TOKEN_REVOKED: 401,
  NOT_FOUND: 404,
  CONFLICT: 409,
  IMMUTABLE: 409,
  RATE_LIMITED: 429,
  CHECKSUM_MISMATCH: 422,
  SIGNATURE_INVALID: 422,
  SIGNATURE_MISSING: 422,
  CHUNK_CORRUPT: 422,
  MODEL_INVALID: 422,
  MODEL_LOAD_FAILED: 422,
  GOLDEN_CHECK_FAILED: 422,
  MODEL_TOO_LARGE: 413,
  DISK_FULL: 507,
  CRASH_LOOP: 409,
  UNAVAILABLE: 503,
  TIMEOUT: 504,
  INTERNAL: 500,
};

/** For HTTPExceptions thrown by Hono itself (it knows statuses, not our codes). */
export function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return 'VALIDATION_FAILED';
    case 401:
      return 'UNAUTHENTICATED';
    case 403:
      return 'FORBIDDEN';
    case 404:
      return 'NOT_FOUND';
    case 409:
      return 'CONFLICT';
    case 413:
      return 'PAYLOAD_TOO_LARGE';
    case 429:
      return 'RATE_LIMITED';
    case 503:
      return 'UNAVAILABLE';
    case 504:
      return 'TIMEOUT';
    default:
      return status >= 500 ? 'INTERNAL' : 'VALIDATION_FAILED';
  }
}
