// Test helper: runs `edgeloop <argv>` through the real dispatcher (bin/cli.ts) with captured output.
import { createApiFixture } from '../api/testing.ts';
import { startHttpServer } from '../cloud/http-server.ts';
import type { Database } from '../db/index.ts';
import { testDatabases } from '../db/testing.ts';
import { silentLogger } from '../log/index.ts';
import type { CliIO } from './command.ts';

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

const { main } = (await import('../../../bin/cli.ts')) as {
  main: (argv: string[], io: CliIO) => Promise<number>;
};

/**
 * Runs one command; `onOut` sees everything printed so far after each write (for `--watch` views).
 * Logs of long-running commands are discarded unless the caller gives a `logSink`.
 *
 * @example
 * const { code, out } = await runCli(['alerts', '--all'], { env: { EDGELOOP_CLOUD: url, EDGELOOP_TOKEN: t } });
 */
export async function runCli(
  argv: string[],
  io: Omit<CliIO, 'out' | 'err'> & { onOut?: (out: string) => void },
): Promise<CliRun> {
  const { onOut, ...rest } = io;
  let out = '';
  let err = '';
  const code = await main(argv, {
    logSink: { write: () => true },
    ...rest,
    out: (t) => {
      out += t;
      onOut?.(out);
    },
    err: (t) => {
      err += t;
    },
  });
  return { code, out, err };
}

/** The operator API on a real socket over a fresh PGlite database, for CLI tests. */
export interface CliApi {
  database: Database;
  /** `EDGELOOP_CLOUD` and `EDGELOOP_TOKEN` (a token of `role`) for `runCli`. */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startCliApi(role: 'viewer' | 'operator' | 'admin'): Promise<CliApi> {
  const database = await (testDatabases()[0] as { open(): Promise<Database> }).open();
  const api = await createApiFixture(database.db);
  const http = await startHttpServer(api.app.fetch, { host: '127.0.0.1', port: 0, logger: silentLogger });
  return {
    database,
    env: { EDGELOOP_CLOUD: http.url, EDGELOOP_TOKEN: api.tokens[role] },
    async close() {
      await http.close(0);
      await database.close();
    },
  };
}
