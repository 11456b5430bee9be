// Pieces every route definition shares: the error envelope as an OpenAPI component, bearer-token
// security, and a JSON body helper that makes the body required (so a request without a JSON
// content type is validated as empty instead of skipping validation).
import { errorEnvelopeSchema } from '@edgeloop/shared';
import type { ZodType } from 'zod';
import { z } from 'zod';

export const ErrorEnvelope = errorEnvelopeSchema.meta({ id: 'ErrorEnvelope' });

const ERROR_TEXT: Record<number, string> = {
  400: 'MALFORMED_JSON or VALIDATION_FAILED (details lists each bad field)',
  401: 'UNAUTHENTICATED or TOKEN_REVOKED',
  403: 'FORBIDDEN: the token role is too low',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
};

export function errorResponses(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: ERROR_TEXT[status] ?? 'error',
        content: { 'application/json': { schema: ErrorEnvelope } },
      },
    ]),
  );
}

/** The errors any authenticated route can return. */
export const AUTH_ERRORS = [400, 401, 403] as const;

export function jsonBody<T extends ZodType>(schema: T, description?: string) {
  return {
    required: true,
    ...(description ? { description } : {}),
    content: { 'application/json': { schema } },
  };
}

export function jsonResponse<T extends ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } };
}

export const bearerSecurity = [{ bearer: [] as string[] }];

export const BEARER_SCHEME = {
  type: 'http' as const,
  scheme: 'bearer',
  description: 'An API token `el_<id>_<secret>` (`edgeloop token create`). Roles: viewer < operator < admin.',
};

/** ISO-8601 timestamps on the wire; Date in the database. */
export const isoTimestamp = z.iso.datetime().meta({ example: '2030-01-02T03:04:05.678Z' });
