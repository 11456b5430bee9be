// The shape of a CLI command, as the `edgeloop` dispatcher (bin/cli.ts) runs it. Packages declare
// commands (path, options, run) and export them from their entry; the dispatcher owns argument
// parsing, help and exit codes, so every command behaves the same.
import { EdgeloopError } from '@edgeloop/shared';

export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  env: Record<string, string | undefined>;
  /** Aborted to stop a long-running command (tests); by default SIGINT/SIGTERM do it. */
  stop?: AbortSignal;
  /** Whether `out` is a terminal: progress bars redraw in place there, and print plain lines elsewhere. */
  isTTY?: boolean;
  /** Where a long-running command's logs go; default process.stdout. */
  logSink?: { write(line: string): unknown; isTTY?: boolean };
}

export interface CliOption {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** `<url>`-style placeholder shown in help. */
  value?: string;
  help: string;
}

export type CliValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface CliCommand {
  /** Words after `edgeloop`, e.g. ['device', 'add']. */
  path: readonly string[];
  summary: string;
  /** Positional arguments, as shown in usage: `<id>`. */
  args?: string;
  /** How many positionals are required / allowed. */
  positionals?: { min: number; max: number };
  options: Record<string, CliOption>;
  /** Extra help text below the options. */
  details?: string;
  run(input: { values: CliValues; positionals: string[]; io: CliIO }): Promise<number>;
}

/** Exit codes: 0 ok, 1 the operation failed, 2 the command line or configuration is wrong. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A mistake on the command line: the dispatcher prints it with the command's usage, exit 2. */
export class CliUsageError extends EdgeloopError {
  constructor(message: string) {
    super('VALIDATION_FAILED', message);
    this.name = 'CliUsageError';
  }
}

export function stringValue(values: CliValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function stringList(values: CliValues, name: string): string[] {
  const value = values[name];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return typeof value === 'string' ? [value] : [];
}
