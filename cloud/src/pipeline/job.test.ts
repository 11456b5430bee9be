import { EdgeloopError } from '@edgeloop/shared';
import { describe, expect, it } from 'vitest';
import { DatasetError } from '../datasets/index.ts';
import { type Job, JobRunner } from './job.ts';

/** A job that waits until released (or aborted), reporting progress on the way. */
function gate() {
  let release!: (value: string) => void;
  const released = new Promise<string>((resolve) => {
    release = resolve;
  });
  return { release, released };
}

describe('JobRunner', () => {
  it('runs one job at a time, in order, with progress that only moves forward', async () => {
    const jobs = new JobRunner({ notifyIntervalMs: 0 });
    const first = gate();
    const a = jobs.start({
      kind: 'train',
      model: 'm',
      run: async ({ progress }) => {
        progress({ phase: 'training', fraction: 0.5, detail: 'epoch 1/2' });
        progress({ phase: 'training', fraction: 0.4 }); // a late, lower report must not move it back
        return first.released;
      },
    });
    const b = jobs.start({ kind: 'evaluate', model: 'm', run: async () => 'b done' });
    expect(jobs.get(a.id)).toMatchObject({ status: 'running', phase: 'training', progress: 0.5 });
    expect(jobs.get(b.id)).toMatchObject({ status: 'queued', progress: 0 });
    expect(jobs.list().map((j) => j.id)).toEqual([b.id, a.id]);

    first.release('a done');
    expect(await jobs.wait(a.id)).toMatchObject({ status: 'succeeded', result: 'a done', progress: 1 });
    expect(await jobs.wait(b.id)).toMatchObject({ status: 'succeeded', result: 'b done' });
  });

  it('reports a failure with its wire code, stage code and message', async () => {
    const jobs = new JobRunner();
    const failing = jobs.start({
      kind: 'train',
      model: 'm',
      run: async () => {
        throw new DatasetError('DATASET_SINGLE_CLASS', 'only one class folder: 7', { path: '/data/x' });
      },
    });
    expect((await jobs.wait(failing.id)).error).toEqual({
      code: 'VALIDATION_FAILED',
      reason: 'DATASET_SINGLE_CLASS',
      message: 'only one class folder: 7',
    });
    const coded = jobs.start({
      kind: 'import',
      model: 'm',
      run: async () => {
        throw new EdgeloopError('MODEL_INVALID', 'bad', { details: { reason: 'ONNX_TRUNCATED' } });
      },
    });
    expect((await jobs.wait(coded.id)).error).toMatchObject({
      code: 'MODEL_INVALID',
      reason: 'ONNX_TRUNCATED',
    });
  });

  it('cancels running and queued jobs; listeners see every state up to the end', async () => {
    const jobs = new JobRunner({ notifyIntervalMs: 0 });
    const seen: Job['status'][] = [];
    const running = jobs.start({
      kind: 'train',
      model: 'm',
      run: ({ signal }) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('stopped')))),
    });
    const queued = jobs.start({ kind: 'train', model: 'm', run: async () => 'never' });
    jobs.subscribe(queued.id, (j) => seen.push(j.status));
    expect(jobs.cancel(queued.id)).toBe(true);
    expect(jobs.cancel(running.id)).toBe(true);
    expect(await jobs.wait(running.id)).toMatchObject({
      status: 'cancelled',
      error: { reason: 'CANCELLED' },
    });
    expect(await jobs.wait(queued.id)).toMatchObject({ status: 'cancelled', startedAt: null });
    expect(seen).toEqual(['cancelled']);
    expect(jobs.cancel(running.id)).toBe(false);
    expect(jobs.subscribe('job-none', () => {})).toBeUndefined();
  });

  it('forgets the oldest finished jobs past its limit', async () => {
    const jobs = new JobRunner({ keepFinished: 2 });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const job = jobs.start({ kind: 'evaluate', model: 'm', run: async () => i });
      ids.push(job.id);
      await jobs.wait(job.id);
    }
    expect(jobs.list().map((j) => j.id)).toEqual([ids[3], ids[2]]);
  });

  it('closes: cancels what runs and refuses new jobs', async () => {
    const jobs = new JobRunner();
    const job = jobs.start({
      kind: 'train',
      model: 'm',
      run: ({ signal }) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    });
    await jobs.close();
    expect(jobs.get(job.id)?.status).toBe('cancelled');
    expect(() => jobs.start({ kind: 'train', model: 'm', run: async () => 1 })).toThrow(/closed/);
  });
});
