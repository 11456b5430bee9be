import { describe, expect, it } from 'vitest';
import { PublishQueue } from './publish-queue.ts';

/** A job that stays in flight until the test releases it. */
function heldJob(log: string[], name: string) {
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  return {
    job: async () => {
      log.push(`start ${name}`);
      await released;
      log.push(`end ${name}`);
    },
    release: () => release(),
  };
}

describe('PublishQueue', () => {
  it('runs at most maxInFlight jobs, in order, and refuses work past maxQueued', async () => {
    const log: string[] = [];
    const queue = new PublishQueue({ maxQueued: 2, maxInFlight: 1 });
    const jobs = ['a', 'b', 'c', 'd'].map((name) => heldJob(log, name));
    expect(jobs.map((j) => queue.offer(j.job))).toEqual([true, true, true, false]);
    await Promise.resolve();
    expect(queue.inFlight).toBe(1);
    expect(queue.queued).toBe(2);
    expect(log).toEqual(['start a']);
    jobs[0]?.release();
    jobs[1]?.release();
    jobs[2]?.release();
    await queue.idle();
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('keeps going after a job throws', async () => {
    const errors: unknown[] = [];
    const queue = new PublishQueue({ maxQueued: 4, maxInFlight: 2 }, (err) => errors.push(err));
    let ran = false;
    queue.offer(async () => {
      throw new Error('boom');
    });
    queue.offer(async () => {
      ran = true;
    });
    await queue.idle();
    expect(ran).toBe(true);
    expect(errors).toHaveLength(1);
  });

  it('drops jobs not yet started on clear', async () => {
    const log: string[] = [];
    const queue = new PublishQueue({ maxQueued: 4, maxInFlight: 1 });
    const first = heldJob(log, 'a');
    queue.offer(first.job);
    queue.offer(heldJob(log, 'b').job);
    expect(queue.clear()).toBe(1);
    first.release();
    await queue.idle();
    expect(log).toEqual(['start a', 'end a']);
  });
});
