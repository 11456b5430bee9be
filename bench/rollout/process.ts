// Process plumbing shared by the benches that put the measured side in a process of its own: a forked
// child answering `{ id, op }` requests over IPC, and an RSS sampler.
import { type ChildProcess, fork } from 'node:child_process';

export const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const mb = (bytes: number) => round(bytes / 1024 / 1024, 1);

export interface Child {
  process: ChildProcess;
  request<T>(message: Record<string, unknown>): Promise<T>;
  /** Messages the child sends unasked ({ event: ... }). */
  onEvent(handler: (message: Record<string, unknown>) => void): void;
  stop(): Promise<void>;
}

/** Forks `file --child` under tsx (with `env` added to ours) and sends it `{ op: 'init', ...init }` first. */
export function forkChild(
  file: string,
  init: Record<string, unknown>,
  env: Record<string, string> = {},
): Child {
  const child = fork(file, ['--child'], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let next = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const handlers: ((m: Record<string, unknown>) => void)[] = [];
  child.on('message', (raw) => {
    const m = raw as Record<string, unknown>;
    if (typeof m.id === 'number') {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (m.error) p?.reject(new Error(String(m.error)));
      else p?.resolve(m.result);
    } else for (const h of handlers) h(m);
  });
  child.on('exit', (code) => {
    for (const p of pending.values()) p.reject(new Error(`child exited (${code})`));
    pending.clear();
  });
  const request = <T>(message: Record<string, unknown>) =>
    new Promise<T>((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ ...message, id });
    });
  void request({ op: 'init', ...init }).catch(() => {});
  return {
    process: child,
    request,
    onEvent: (h) => handlers.push(h),
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      await request({ op: 'stop' }).catch(() => {});
      await Promise.race([exited, sleep(20_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** In the child: answers `{ id, op, ... }` requests with `handle`, sends `{ id, result | error }`. */
export function serveParent(handle: (message: Record<string, unknown>) => Promise<unknown>): void {
  // A parent killed (Ctrl-C, a timeout) leaves no worker behind burning the machine's CPU.
  process.on('disconnect', () => process.exit(1));
  process.on('message', (raw) => {
    const m = raw as Record<string, unknown> & { id: number };
    handle(m).then(
      (result) => process.send?.({ id: m.id, result: result ?? null }),
      (err: unknown) => process.send?.({ id: m.id, error: err instanceof Error ? err.stack : String(err) }),
    );
  });
}

/** Samples this process's RSS every 100 ms; `peak()` is the highest seen since the last `reset()`. */
export class RssSampler {
  #peak = 0;
  readonly #timer = setInterval(() => this.sample(), 100);
  sample(): number {
    const rss = process.memoryUsage.rss();
    this.#peak = Math.max(this.#peak, rss);
    return rss;
  }
  peak(): number {
    return Math.max(this.#peak, this.sample());
  }
  reset(): void {
    this.#peak = 0;
  }
  stop(): void {
    clearInterval(this.#timer);
  }
}
