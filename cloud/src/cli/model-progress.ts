// Progress of long model operations on the terminal. On a TTY one line is redrawn in place (phase,
// bar, percent, detail); elsewhere (CI logs, pipes) a plain line is printed when the phase changes or
// every tenth of the way, so a log stays readable. Jobs are followed over the API's event stream.
import { EdgeloopError, type ErrorCode, errorCodeSchema } from '@edgeloop/shared';
import { JobView } from '../api/models/schemas.ts';
import type { ApiClient } from './api-client.ts';
import type { CliIO } from './command.ts';

const BAR_WIDTH = 24;
const LINE_WIDTH = 100;

export class ProgressLine {
  readonly #io: CliIO;
  readonly #label: string;
  readonly #tty: boolean;
  #lastPhase = '';
  #lastStep = -1;
  #drawn = false;

  constructor(io: CliIO, label: string) {
    this.#io = io;
    this.#label = label;
    this.#tty = io.isTTY === true;
  }

  update(phase: string, fraction: number, detail?: string | null): void {
    const percent = Math.floor(Math.min(1, Math.max(0, fraction)) * 100);
    if (this.#tty) {
      const filled = Math.round((percent / 100) * BAR_WIDTH);
      const bar = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`;
      const line = `${this.#label} ${phase.padEnd(11)} ${bar} ${String(percent).padStart(3)}%${detail ? `  ${detail}` : ''}`;
      // \r + clear-line: redraw in place, never leaving a longer previous line's tail behind.
      this.#io.out(`\r\x1b[2K${line.slice(0, LINE_WIDTH)}`);
      this.#drawn = true;
      return;
    }
    const step = Math.floor(percent / 10);
    if (phase === this.#lastPhase && step === this.#lastStep) return;
    this.#lastPhase = phase;
    this.#lastStep = step;
    this.#io.out(`${this.#label}: ${phase} ${percent}%${detail ? ` (${detail})` : ''}\n`);
  }

  /** Ends the redrawn line so what follows starts on its own. */
  finish(): void {
    if (this.#drawn) this.#io.out('\n');
    this.#drawn = false;
  }
}

export type JobState = ReturnType<typeof JobView.parse>;

/** Reads server-sent events from a response body, calling `onEvent` for each; resolves at the end. */
export async function readEventStream(
  body: ReadableStream<Uint8Array>,
  onEvent: (event: string, data: string) => boolean | undefined,
): Promise<void> {
  const decoder = new TextDecoder();
  let buffer = '';
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\n\n');
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
        }
        if (data.length > 0 && onEvent(event, data.join('\n')) === true) return;
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/**
 * Follows a job until it ends, drawing its progress; returns the final state. If the event stream
 * breaks off (a proxy timeout), the job is read once more, so the caller still learns how it ended.
 */
export async function followJob(
  client: ApiClient,
  io: CliIO,
  job: JobState,
  label: string,
): Promise<JobState> {
  const bar = new ProgressLine(io, label);
  let last = job;
  bar.update(job.phase, job.progress, job.detail);
  const res = await client.open('GET', `/api/v1/jobs/${job.id}/events`, { accept: 'text/event-stream' });
  if (res.body) {
    await readEventStream(res.body, (event, data) => {
      const parsed = JobView.safeParse(JSON.parse(data));
      if (!parsed.success) return false;
      last = parsed.data;
      bar.update(last.phase, last.progress, last.detail);
      return event === 'end';
    });
  }
  bar.finish();
  if (!['succeeded', 'failed', 'cancelled'].includes(last.status)) {
    last = await client.request('GET', `/api/v1/jobs/${job.id}`, JobView);
  }
  return last;
}

/** A job that did not succeed, as the error the dispatcher prints (message, code) with exit 1. */
export function jobFailure(job: JobState): EdgeloopError {
  const code = errorCodeSchema.safeParse(job.error?.code);
  const reason = job.error?.reason && job.error.reason !== job.error.code ? ` (${job.error.reason})` : '';
  return new EdgeloopError(
    (code.success ? code.data : 'INTERNAL') as ErrorCode,
    `job ${job.id} ${job.status}: ${job.error?.message ?? 'no reason given'}${reason}`,
  );
}
