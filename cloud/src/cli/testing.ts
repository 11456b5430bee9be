// Test helper: runs `edgeloop <argv>` through the real dispatcher (bin/cli.ts) with captured output.
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
