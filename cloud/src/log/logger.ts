// Structured logging: one JSON object per line for machines (log shippers, `jq`), one readable line
// for a person at a terminal. Child loggers carry bindings (component, requestId, deviceId) so
// every line says where it came from without each call repeating it.
import { formatLine, type LogRecord } from './format.ts';

export const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
export type LogLevel = keyof typeof LEVELS;
export type LogFields = Record<string, unknown>;

/**
 * pino's call shape — `log.info('msg')` or `log.info({ fields }, 'msg')` — so code written against
 * pino (and the broker's narrower Logger interface) takes this logger without an adapter.
 */
export interface LogFn {
  (msg: string): void;
  (fields: object, msg: string): void;
}

export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  isEnabled(level: LogLevel): boolean;
  /** A logger whose lines all carry `bindings` (later bindings and call fields win). */
  child(bindings: LogFields): Logger;
  /** Resolves once everything written so far has left the process's buffers. */
  flush(): Promise<void>;
}

export interface LogSink {
  write(line: string): unknown;
  isTTY?: boolean;
  once?(event: 'drain', listener: () => void): unknown;
  writableNeedDrain?: boolean;
}

export interface LoggerOptions {
  level?: LogLevel | 'silent';
  /** `auto`: pretty when the sink is a terminal, JSON lines otherwise. */
  format?: 'auto' | 'json' | 'pretty';
  sink?: LogSink;
  /** Colours in pretty mode; defaults to on for a TTY unless NO_COLOR is set. */
  color?: boolean;
  now?: () => Date;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const sink = options.sink ?? process.stdout;
  const format =
    options.format === 'auto' || options.format === undefined ? autoFormat(sink) : options.format;
  const color = options.color ?? (format === 'pretty' && sink.isTTY === true && !process.env.NO_COLOR);
  const threshold = options.level === 'silent' ? Number.POSITIVE_INFINITY : LEVELS[options.level ?? 'info'];
  const now = options.now ?? (() => new Date());

  const build = (bindings: LogFields): Logger => {
    const at =
      (level: LogLevel): LogFn =>
      (first: string | object, second?: string) => {
        if (LEVELS[level] < threshold) return;
        // pino also accepts an Error in place of the fields object.
        const fields = typeof first === 'string' ? {} : first instanceof Error ? { err: first } : first;
        const msg = typeof first === 'string' ? first : (second ?? '');
        const record: LogRecord = { level, time: now().toISOString(), msg, ...bindings, ...fields };
        sink.write(`${formatLine(record, format, color)}\n`);
      };
    return {
      trace: at('trace'),
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      fatal: at('fatal'),
      isEnabled: (level) => LEVELS[level] >= threshold,
      child: (more) => build({ ...bindings, ...more }),
      flush: () =>
        new Promise<void>((resolve) => {
          if (sink.writableNeedDrain && sink.once) sink.once('drain', resolve);
          else resolve();
        }),
    };
  };
  return build({});
}

function autoFormat(sink: LogSink): 'json' | 'pretty' {
  return sink.isTTY === true ? 'pretty' : 'json';
}

/** A logger that drops everything: for tests and library callers that pass none. */
export const silentLogger: Logger = createLogger({ level: 'silent', sink: { write: () => true } });
