// The agent logs structured events (one JSON object per line on stderr from the CLI); tests and the
// fleet simulator pass a silent or collecting logger instead.
export interface AgentLogger {
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: AgentLogger = { info() {}, warn() {}, error() {} };

export function jsonLinesLogger(
  context: Record<string, unknown>,
  write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): AgentLogger {
  const log =
    (level: string) =>
    (event: string, fields: Record<string, unknown> = {}) =>
      write(JSON.stringify({ level, at: new Date().toISOString(), event, ...context, ...fields }));
  return { info: log('info'), warn: log('warn'), error: log('error') };
}

export function errorFields(err: unknown): Record<string, unknown> {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { err: err.message, ...(code === undefined ? {} : { code }) };
  }
  return { err: String(err) };
}
