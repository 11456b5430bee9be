import * as z from 'zod';
import { utf8Decode, utf8Encode } from './encoding.ts';

/** Every JSON payload on the wire carries `v`, its schema version. This is version 1 of the contract. */
export const SCHEMA_VERSION = 1 as const;

export type RejectionCode =
  | 'MALFORMED_JSON'
  | 'VALIDATION_FAILED'
  | 'SCHEMA_VERSION_UNSUPPORTED'
  | 'PAYLOAD_TOO_LARGE';

export interface PayloadIssue {
  path: string;
  message: string;
}

/** Why a payload was refused: a stable code plus a sentence a person can act on. */
export interface PayloadRejection {
  code: RejectionCode;
  payload: string;
  reason: string;
  issues: PayloadIssue[];
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: PayloadRejection };

/** Flattens zod issues into `path: message` pairs ("model.sha256: sha256 must be ..."). */
export function describeIssues(error: z.ZodError): PayloadIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.length ? issue.path.map(String).join('.') : '(root)',
    message: issue.message,
  }));
}

export function formatIssues(issues: PayloadIssue[]): string {
  return issues.map((i) => `${i.path}: ${i.message}`).join('; ');
}

export interface PayloadCodec<S extends z.ZodType> {
  readonly name: string;
  readonly schema: S;
  readonly maxBytes: number;
  /** Validates (throws on an invalid value: a bug on our side) and serialises to UTF-8 JSON. */
  encode(value: z.input<S>): Uint8Array;
  /** Parses bytes or a string from the wire, never throws. */
  decode(raw: Uint8Array | string): ParseResult<z.output<S>>;
  /** Validates an already-parsed value (e.g. an HTTP body), never throws. */
  check(value: unknown): ParseResult<z.output<S>>;
}

export class PayloadEncodeError extends Error {
  readonly code = 'VALIDATION_FAILED' as const;
  constructor(
    readonly payload: string,
    readonly issues: PayloadIssue[],
  ) {
    super(`refusing to encode an invalid ${payload} payload: ${formatIssues(issues)}`);
    this.name = 'PayloadEncodeError';
  }
}

export function definePayload<S extends z.ZodType>(
  name: string,
  schema: S,
  options: { maxBytes: number },
): PayloadCodec<S> {
  const reject = (code: RejectionCode, reason: string, issues: PayloadIssue[] = []): ParseResult<never> => ({
    ok: false,
    error: { code, payload: name, reason, issues },
  });

  // zod's ahead-of-time compiled parser: same results and issues (an invalid value is re-parsed by
  // the runtime parser for its issues), ~15x faster on a telemetry window (15 µs → 1 µs). Compiled
  // on first use; where `new Function` is not allowed (CSP) z.compile hands back the schema itself.
  let fast: S | undefined;
  const compiled = (): S => {
    fast ??= z.compile(schema);
    return fast;
  };

  const check = (value: unknown): ParseResult<z.output<S>> => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return reject('VALIDATION_FAILED', `${name}: expected a JSON object`);
    }
    const version = (value as { v?: unknown }).v;
    if (version === undefined) {
      return reject('VALIDATION_FAILED', `${name}: missing schema version "v"`, [
        { path: 'v', message: 'required' },
      ]);
    }
    if (version !== SCHEMA_VERSION) {
      return reject(
        'SCHEMA_VERSION_UNSUPPORTED',
        `${name}: schema version ${JSON.stringify(version)} is not supported (this side speaks v${SCHEMA_VERSION})`,
      );
    }
    const parsed = compiled().safeParse(value);
    if (!parsed.success) {
      const issues = describeIssues(parsed.error);
      return reject('VALIDATION_FAILED', `${name}: ${formatIssues(issues)}`, issues);
    }
    return { ok: true, value: parsed.data };
  };

  return {
    name,
    schema,
    maxBytes: options.maxBytes,
    encode(value) {
      const parsed = compiled().safeParse(value);
      if (!parsed.success) throw new PayloadEncodeError(name, describeIssues(parsed.error));
      return utf8Encode(JSON.stringify(parsed.data));
    },
    decode(raw) {
      const size = typeof raw === 'string' ? raw.length : raw.byteLength;
      if (size > options.maxBytes) {
        return reject('PAYLOAD_TOO_LARGE', `${name}: ${size} bytes exceeds the limit of ${options.maxBytes}`);
      }
      const text = typeof raw === 'string' ? raw : utf8Decode(raw);
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        return reject('MALFORMED_JSON', `${name}: not valid JSON (${(err as Error).message})`);
      }
      return check(value);
    },
    check,
  };
}
