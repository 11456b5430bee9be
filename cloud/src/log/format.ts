// Turns one log record into one line. JSON output is what log shippers parse; the pretty form is
// for a person watching `edgeloop start` in a terminal. Errors are expanded in both (name, code,
// message, stack, cause) because `JSON.stringify(new Error())` is `{}`.

export interface LogRecord {
  level: string;
  time: string;
  msg: string;
  [field: string]: unknown;
}

export function formatLine(record: LogRecord, format: 'json' | 'pretty', color: boolean): string {
  return format === 'json' ? toJson(record) : toPretty(record, color);
}

function toJson(record: LogRecord): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(record, (_key, value: unknown) => {
    if (typeof value === 'bigint') return value.toString();
    if (value instanceof Error) return serializeError(value);
    if (typeof value === 'object' && value !== null) {
      if (seen.has(value)) return '[circular]';
      seen.add(value);
    }
    return value;
  });
}

export function serializeError(err: Error, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = { name: err.name, message: err.message };
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  if (err.stack) out.stack = err.stack;
  if (err.cause !== undefined && depth < 5) {
    out.cause = err.cause instanceof Error ? serializeError(err.cause, depth + 1) : err.cause;
  }
  return out;
}

const COLORS: Record<string, string> = {
  trace: '\x1b[90m',
  debug: '\x1b[36m',
  info: '\x1b[32m',
  warn: '\x1b[33m',
  error: '\x1b[31m',
  fatal: '\x1b[35m',
};
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';

function toPretty(record: LogRecord, color: boolean): string {
  const { level, time, msg, component, ...fields } = record;
  const paint = (code: string | undefined, text: string) => (color && code ? `${code}${text}${RESET}` : text);
  const clock = time.slice(11, 23); // HH:MM:SS.mmm — the date is noise on a live terminal
  const where = typeof component === 'string' ? `${paint(DIM, `[${component}]`)} ` : '';
  const stacks: string[] = [];
  const pairs = Object.entries(fields).map(([key, value]) => {
    if (value instanceof Error) {
      if (value.stack) stacks.push(value.stack);
      return `${key}=${quote(value.message)}`;
    }
    return `${key}=${typeof value === 'string' ? quote(value) : toJson(value as LogRecord)}`;
  });
  const head = `${paint(DIM, clock)} ${paint(COLORS[level], level.toUpperCase().padEnd(5))} ${where}${msg}`;
  const tail = pairs.length > 0 ? ` ${paint(DIM, pairs.join(' '))}` : '';
  return [head + tail, ...stacks.map((s) => s.replace(/^/gm, '    '))].join('\n');
}

function quote(text: string): string {
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}
