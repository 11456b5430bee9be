// Long pipeline operations (training, import, quantization, evaluation) run as jobs: started by an
// API call that answers at once with the job id, then watched by polling or over server-sent events.
// Jobs live in memory (a restart forgets them; the registry keeps every result that matters) and run
// one at a time: training and quantization each want the whole machine. The start and end of every
// job are written to the events table, so a model's history shows who trained what, and how it ended.
import { randomBytes } from 'node:crypto';
import type { Db } from '../db/database.ts';
import { events } from '../db/schema.ts';
import type { Logger } from '../log/index.ts';
import { failureOf, type PipelineFailure } from './errors.ts';
import type { ProgressUpdate } from './progress.ts';

export const JOB_KINDS = ['train', 'import', 'quantize', 'evaluate'] as const;
export type JobKind = (typeof JOB_KINDS)[number];
export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const JOB_STARTED_EVENT = 'model.job.started';
export const JOB_FINISHED_EVENT = 'model.job.finished';

/** A job as clients see it: plain data, safe to serialise. */
export interface Job {
  id: string;
  kind: JobKind;
  /** The model it works on. */
  model: string;
  actor: string;
  status: JobStatus;
  phase: string;
  /** Overall progress, 0..1. */
  progress: number;
  detail: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** What it produced when it succeeded (e.g. the registered version). */
  result: unknown;
  error: PipelineFailure | null;
}

export interface JobContext {
  signal: AbortSignal;
  progress(update: ProgressUpdate): void;
}

export interface JobSpec<T> {
  kind: JobKind;
  model: string;
  actor?: string;
  /** Recorded with the start event (the request, without bulky fields). */
  request?: Record<string, unknown>;
  run(context: JobContext): Promise<T>;
  /** A short summary of the result for the finish event; default: the result itself. */
  summarize?(result: T): unknown;
}

export type JobListener = (job: Job) => void;

export interface JobRunnerOptions {
  /** Where start/finish events go; none in unit tests that do not care. */
  db?: Db;
  logger?: Logger;
  now?: () => Date;
  /** Finished jobs kept for GET /jobs; the oldest go first. */
  keepFinished?: number;
  /** Progress updates closer together than this are coalesced for listeners. */
  notifyIntervalMs?: number;
}

interface Entry {
  job: Job;
  spec: JobSpec<unknown>;
  abort: AbortController;
  listeners: Set<JobListener>;
  lastNotified: number;
  done: Promise<Job>;
  settle: (job: Job) => void;
}

const TERMINAL: ReadonlySet<JobStatus> = new Set(['succeeded', 'failed', 'cancelled']);

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL.has(status);
}

export class JobRunner {
  readonly #entries = new Map<string, Entry>();
  readonly #queue: Entry[] = [];
  readonly #db: Db | undefined;
  readonly #logger: Logger | undefined;
  readonly #now: () => Date;
  readonly #keepFinished: number;
  readonly #notifyIntervalMs: number;
  readonly #writes = new Set<Promise<void>>();
  #running: Entry | undefined;
  #closed = false;

  constructor(options: JobRunnerOptions = {}) {
    this.#db = options.db;
    this.#logger = options.logger;
    this.#now = options.now ?? (() => new Date());
    this.#keepFinished = options.keepFinished ?? 100;
    this.#notifyIntervalMs = options.notifyIntervalMs ?? 100;
  }

  /** Queues a job and returns it at once (queued, or running when nothing else is). */
  start<T>(spec: JobSpec<T>): Job {
    if (this.#closed) throw new Error('the job runner is closed');
    let settle!: (job: Job) => void;
    const done = new Promise<Job>((resolve) => {
      settle = resolve;
    });
    const entry: Entry = {
      job: {
        id: `job-${randomBytes(6).toString('hex')}`,
        kind: spec.kind,
        model: spec.model,
        actor: spec.actor ?? 'system',
        status: 'queued',
        phase: 'queued',
        progress: 0,
        detail: null,
        createdAt: this.#now(),
        startedAt: null,
        finishedAt: null,
        result: null,
        error: null,
      },
      spec: spec as JobSpec<unknown>,
      abort: new AbortController(),
      listeners: new Set(),
      lastNotified: 0,
      done,
      settle,
    };
    this.#entries.set(entry.job.id, entry);
    this.#queue.push(entry);
    this.#pump();
    return { ...entry.job };
  }

  get(id: string): Job | undefined {
    const entry = this.#entries.get(id);
    return entry === undefined ? undefined : { ...entry.job };
  }

  /** Newest first. */
  list(): Job[] {
    return [...this.#entries.values()].map((e) => ({ ...e.job })).reverse();
  }

  /**
   * Calls `listener` on every change of the job until it ends (the last call is the terminal state).
   * Returns the unsubscribe function; undefined when there is no such job.
   */
  subscribe(id: string, listener: JobListener): (() => void) | undefined {
    const entry = this.#entries.get(id);
    if (entry === undefined) return undefined;
    entry.listeners.add(listener);
    return () => entry.listeners.delete(listener);
  }

  /** Resolves with the job once it has ended. */
  async wait(id: string): Promise<Job> {
    const entry = this.#entries.get(id);
    if (entry === undefined) throw new RangeError(`no job ${id}`);
    return entry.done;
  }

  /** Stops a queued or running job; it ends as `cancelled`. False when it had already ended. */
  cancel(id: string): boolean {
    const entry = this.#entries.get(id);
    if (entry === undefined || isTerminal(entry.job.status)) return false;
    entry.abort.abort(new Error('cancelled'));
    const queued = this.#queue.indexOf(entry);
    if (queued >= 0) {
      this.#queue.splice(queued, 1);
      this.#finish(entry, 'cancelled', null, null);
    }
    return true;
  }

  /** Cancels everything and waits for the running job to stop and the event rows to be written. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const entry of [...this.#queue]) this.cancel(entry.job.id);
    const running = this.#running;
    if (running) {
      this.cancel(running.job.id);
      await running.done;
    }
    await Promise.all([...this.#writes]);
  }

  #pump(): void {
    if (this.#running !== undefined) return;
    const next = this.#queue.shift();
    if (next === undefined) return;
    this.#running = next;
    void this.#run(next).finally(() => {
      this.#running = undefined;
      this.#pump();
    });
  }

  async #run(entry: Entry): Promise<void> {
    const { job, spec } = entry;
    Object.assign(job, { status: 'running', phase: 'starting', startedAt: this.#now() });
    this.#notify(entry, true);
    this.#record(JOB_STARTED_EVENT, job, { request: spec.request ?? {} });
    this.#logger?.info({ jobId: job.id, kind: job.kind, model: job.model }, 'job started');
    const context: JobContext = {
      signal: entry.abort.signal,
      progress: (update) => {
        if (isTerminal(job.status)) return;
        job.phase = update.phase;
        // Never backwards: a phase that restarts its count must not make the bar jump back.
        job.progress = Math.max(job.progress, Math.min(1, update.fraction));
        job.detail = update.detail ?? null;
        this.#notify(entry, false);
      },
    };
    try {
      const result = await spec.run(context);
      if (entry.abort.signal.aborted) this.#finish(entry, 'cancelled', null, null);
      else this.#finish(entry, 'succeeded', result, null);
    } catch (error) {
      if (entry.abort.signal.aborted) this.#finish(entry, 'cancelled', null, null);
      else this.#finish(entry, 'failed', null, error);
    }
  }

  #finish(entry: Entry, status: JobStatus, result: unknown, error: unknown): void {
    const { job } = entry;
    job.status = status;
    job.finishedAt = this.#now();
    if (status === 'succeeded') {
      job.result = result;
      job.progress = 1;
      job.phase = 'done';
      job.detail = null;
    }
    if (status === 'failed') job.error = failureOf(error);
    if (status === 'cancelled')
      job.error = { code: 'UNAVAILABLE', reason: 'CANCELLED', message: 'cancelled' };
    const summary =
      status === 'succeeded'
        ? { result: entry.spec.summarize ? entry.spec.summarize(result) : result }
        : { error: job.error };
    this.#record(JOB_FINISHED_EVENT, job, { status, ...summary });
    const level = status === 'failed' ? 'warn' : 'info';
    this.#logger?.[level](
      { jobId: job.id, kind: job.kind, model: job.model, status, ...(job.error ? { error: job.error } : {}) },
      'job finished',
    );
    this.#notify(entry, true);
    entry.listeners.clear();
    entry.settle({ ...job });
    this.#forgetOldJobs();
  }

  #notify(entry: Entry, force: boolean): void {
    const now = performance.now();
    if (!force && now - entry.lastNotified < this.#notifyIntervalMs) return;
    entry.lastNotified = now;
    const snapshot = { ...entry.job };
    for (const listener of entry.listeners) {
      try {
        listener(snapshot);
      } catch (error) {
        this.#logger?.warn({ jobId: entry.job.id, err: error }, 'job listener threw');
      }
    }
  }

  #record(kind: string, job: Job, data: Record<string, unknown>): void {
    const db = this.#db;
    if (db === undefined) return;
    const write = db
      .insert(events)
      .values({
        kind,
        subject: `model:${job.model}`,
        actor: job.actor,
        at: this.#now(),
        data: { jobId: job.id, job: job.kind, ...data },
      })
      .then(
        () => undefined,
        (error: unknown) => this.#logger?.warn({ jobId: job.id, err: error }, 'could not record job event'),
      );
    this.#writes.add(write);
    void write.finally(() => this.#writes.delete(write));
  }

  #forgetOldJobs(): void {
    const finished = [...this.#entries.values()].filter((e) => isTerminal(e.job.status));
    for (const entry of finished.slice(0, Math.max(0, finished.length - this.#keepFinished))) {
      this.#entries.delete(entry.job.id);
    }
  }
}
