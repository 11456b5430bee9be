// The CLI's HTTP client. The CLI never touches the database: it talks to the operator API, so the
// same commands work against a cloud on this machine or a remote one. Responses are parsed with the
// API's own schemas, so a CLI and a cloud that disagree fail loudly instead of printing nonsense.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EdgeloopError, errorEnvelopeSchema } from '@edgeloop/shared';
import type { ZodType } from 'zod';
import { ADMIN_TOKEN_FILE } from '../cloud/admin-token.ts';
import type { CliIO, CliOption, CliValues } from './command.ts';
import { stringValue } from './command.ts';

export const DEFAULT_CLOUD_URL = 'http://127.0.0.1:8080';

export const CLIENT_OPTIONS: Record<string, CliOption> = {
  cloud: {
    type: 'string',
    value: '<url>',
    help: `cloud API URL (EDGELOOP_CLOUD; default ${DEFAULT_CLOUD_URL})`,
  },
  token: {
    type: 'string',
    value: '<token>',
    help: 'API token (EDGELOOP_TOKEN; default: the quick-start token in ./.edgeloop)',
  },
  json: { type: 'boolean', help: 'print JSON instead of a table' },
};

/** An error the API answered with, carrying its envelope code. */
export class ApiRequestError extends EdgeloopError {
  readonly status: number;

  constructor(status: number, envelope: ReturnType<typeof errorEnvelopeSchema.parse>) {
    super(envelope.error.code, envelope.error.message, { details: envelope.error.details });
    this.name = 'ApiRequestError';
    this.status = status;
  }
}

export class ApiClient {
  readonly baseUrl: string;
  readonly #token: string | undefined;

  constructor(baseUrl: string, token: string | undefined) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.#token = token;
  }

  /**
   * A request whose response is read as a stream (server-sent events) or whose body is streamed (an
   * upload with progress). No timeout: such requests last as long as the work. Errors as `request`.
   */
  async open(
    method: string,
    path: string,
    init: { body?: ReadableStream<Uint8Array>; accept?: string } = {},
  ) {
    const headers: Record<string, string> = { accept: init.accept ?? 'application/json' };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    if (init.body) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...(init.body ? { body: init.body, duplex: 'half' } : {}),
      } as RequestInit);
    } catch (err) {
      throw new EdgeloopError(
        'UNAVAILABLE',
        `cannot reach the cloud at ${this.baseUrl} (${(err as Error).message})`,
        {
          cause: err,
        },
      );
    }
    if (!res.ok) {
      const text = await res.text();
      const envelope = errorEnvelopeSchema.safeParse(safeJson(text));
      if (envelope.success) throw new ApiRequestError(res.status, envelope.data);
      throw new EdgeloopError('INTERNAL', `${method} ${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
    }
    return res;
  }

  async request<T>(method: string, path: string, schema: ZodType<T> | null, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      const cause =
        (err as Error).cause instanceof Error
          ? ((err as Error).cause as Error).message
          : (err as Error).message;
      throw new EdgeloopError(
        'UNAVAILABLE',
        `cannot reach the cloud at ${this.baseUrl} (${cause}); is it running? (edgeloop start, or pass --cloud)`,
        { cause: err },
      );
    }
    const text = await res.text();
    const json: unknown = text ? safeJson(text) : undefined;
    if (!res.ok) {
      const envelope = errorEnvelopeSchema.safeParse(json);
      if (envelope.success) throw new ApiRequestError(res.status, envelope.data);
      throw new EdgeloopError('INTERNAL', `${method} ${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
    }
    if (schema === null) return undefined as T;
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new EdgeloopError(
        'INTERNAL',
        `${method} ${path}: unexpected response (${parsed.error.issues[0]?.message})`,
      );
    }
    return parsed.data;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** --cloud / EDGELOOP_CLOUD, --token / EDGELOOP_TOKEN, else the quick start's stored token. */
export function clientFrom(values: CliValues, io: CliIO): ApiClient {
  const url = stringValue(values, 'cloud') ?? io.env.EDGELOOP_CLOUD ?? DEFAULT_CLOUD_URL;
  const token = stringValue(values, 'token') ?? io.env.EDGELOOP_TOKEN ?? quickStartToken(io.env);
  return new ApiClient(url, token);
}

function quickStartToken(env: Record<string, string | undefined>): string | undefined {
  try {
    return (
      readFileSync(join(env.EDGELOOP_DATA_DIR || './.edgeloop', ADMIN_TOKEN_FILE), 'utf8').trim() || undefined
    );
  } catch {
    return undefined;
  }
}
