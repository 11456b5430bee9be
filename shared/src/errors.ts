import * as z from 'zod';

/**
 * Stable error codes used across the wire (HTTP error envelopes, MQTT rejection reasons, reported
 * failures). Clients switch on `code`, never on `message`.
 */
export const ERROR_CODES = [
  // request / payload validation
  'MALFORMED_JSON',
  'VALIDATION_FAILED',
  'SCHEMA_VERSION_UNSUPPORTED',
  'PAYLOAD_TOO_LARGE',
  'TOPIC_INVALID',
  'DEVICE_MISMATCH',
  // auth
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'TOKEN_REVOKED',
  // resources
  'NOT_FOUND',
  'CONFLICT',
  'IMMUTABLE',
  'RATE_LIMITED',
  // artifacts and models
  'CHECKSUM_MISMATCH',
  'SIGNATURE_INVALID',
  'SIGNATURE_MISSING',
  'CHUNK_CORRUPT',
  'MODEL_INVALID',
  'MODEL_LOAD_FAILED',
  'GOLDEN_CHECK_FAILED',
  'MODEL_TOO_LARGE',
  'DISK_FULL',
  'CRASH_LOOP',
  // infrastructure
  'UNAVAILABLE',
  'TIMEOUT',
  'INTERNAL',
] as const;

export const errorCodeSchema = z.enum(ERROR_CODES);
export type ErrorCode = z.infer<typeof errorCodeSchema>;

/** The one error envelope: every HTTP error body, every rejection a device reports. */
export const errorEnvelopeSchema = z.object({
  error: z.object({
    code: errorCodeSchema,
    message: z.string().min(1),
    details: z.unknown().optional(),
    requestId: z.string().optional(),
  }),
});
export type ErrorEnvelope = z.infer<typeof errorEnvelopeSchema>;

export function errorEnvelope(
  code: ErrorCode,
  message: string,
  extra: { details?: unknown; requestId?: string } = {},
): ErrorEnvelope {
  return { error: { code, message, ...extra } };
}

/** Base class for errors that carry a stable code. Each package derives its own. */
export class EdgeloopError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EdgeloopError';
    this.code = code;
    this.details = options.details;
  }

  toEnvelope(requestId?: string): ErrorEnvelope {
    return errorEnvelope(this.code, this.message, {
      ...(this.details === undefined ? {} : { details: this.details }),
      ...(requestId === undefined ? {} : { requestId }),
    });
  }
}
