// HTTP failures → stable codes. The cloud answers errors with the shared envelope
// (`{ error: { code, message } }`); anything else is mapped from the status.
import { type ErrorCode, errorEnvelopeSchema } from '@edgeloop/shared';
import { EdgeloopWebError } from './errors.ts';

function codeForStatus(status: number): ErrorCode {
  if (status === 401) return 'UNAUTHENTICATED';
  if (status === 403) return 'FORBIDDEN';
  if (status === 404) return 'NOT_FOUND';
  if (status === 413) return 'PAYLOAD_TOO_LARGE';
  if (status === 429) return 'RATE_LIMITED';
  if (status >= 500) return 'UNAVAILABLE';
  return 'VALIDATION_FAILED';
}

/** The error for a non-2xx response, using the cloud's envelope when it sent one. */
export async function responseError(response: Response, what: string): Promise<EdgeloopWebError> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const envelope = errorEnvelopeSchema.safeParse(body);
  if (envelope.success) {
    const { code, message, details } = envelope.data.error;
    return new EdgeloopWebError(code, `${what}: ${message}`, {
      details: { status: response.status, details },
    });
  }
  return new EdgeloopWebError(codeForStatus(response.status), `${what}: HTTP ${response.status}`, {
    details: { status: response.status },
  });
}

/** `fetch` that turns a network failure into UNAVAILABLE instead of a bare TypeError. */
export async function fetchOrThrow(
  fetchImpl: typeof fetch,
  url: string,
  init: RequestInit,
  what: string,
): Promise<Response> {
  let response: Response;
  try {
    response = await fetchImpl(url, init);
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new EdgeloopWebError('UNAVAILABLE', `${what}: network error`, { cause: err });
  }
  if (!response.ok) throw await responseError(response, what);
  return response;
}
