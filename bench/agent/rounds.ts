// The measured rounds. Each round runs, one after the other so that each sees the same machine: the
// bare path, the tsx agent over node:http, the shipped agent over node:http, first sequentially
// (one frame in flight) and then at `--concurrency` frames in flight, then the tsx agent over fetch
// at `--concurrency`. Medians over the rounds are compared afterwards.
import type { Child } from '../rollout/process.ts';
import { round } from '../rollout/process.ts';
import { type Client, throughAgent } from './client.ts';

/** Frames/s per round of each path at one concurrency, and CPU time per frame of each process. */
export interface PathRounds {
  concurrency: number;
  bare: number[];
  agent: number[];
  shipped: number[];
  /** CPU time per frame (all threads of the process): steadier than frames/s on a shared machine. */
  cpuPerFrame: { bare: number[]; agent: number[]; shipped: number[] };
}

export interface FrameRounds {
  /** One frame in flight on every path. */
  sequential: PathRounds;
  /** `--concurrency` frames in flight on every path (the same object as `sequential` when that is 1). */
  concurrent: PathRounds;
  /** The tsx agent over fetch at `--concurrency`, frames/s per round. */
  fetch: number[];
}

const emptyRounds = (concurrency: number): PathRounds => ({
  concurrency,
  bare: [],
  agent: [],
  shipped: [],
  cpuPerFrame: { bare: [], agent: [], shipped: [] },
});

export async function measureRounds(o: {
  rounds: number;
  seconds: number;
  concurrency: number;
  jpeg: Buffer;
  /** The serving model's bytes (base64) and session options, for the bare path. */
  serving: { model: string; sessionOptions: Record<string, string> };
  bareChild: Child;
  tsx: { localUrl: string; cpuMs: () => Promise<number> };
  shipped: { localUrl: string; cpuMs: () => number };
}): Promise<FrameRounds> {
  const sequential = emptyRounds(1);
  const concurrent = o.concurrency === 1 ? sequential : emptyRounds(o.concurrency);
  const fetch: number[] = [];
  const tsx = (client: Client, concurrency: number) =>
    throughAgent(o.tsx.localUrl, o.jpeg, o.seconds, client, o.tsx.cpuMs, concurrency);
  const shipped = (concurrency: number) =>
    throughAgent(o.shipped.localUrl, o.jpeg, o.seconds, 'http', async () => o.shipped.cpuMs(), concurrency);
  for (let i = 0; i < o.rounds; i++) {
    for (const r of new Set([sequential, concurrent])) {
      const b = await o.bareChild.request<{ frames: number; seconds: number; cpuMs: number }>({
        op: 'bare',
        jpeg: o.jpeg.toString('base64'),
        seconds: o.seconds,
        concurrency: r.concurrency,
        ...o.serving,
      });
      r.bare.push(b.frames / b.seconds);
      r.cpuPerFrame.bare.push(b.cpuMs / b.frames);
      const a = await tsx('http', r.concurrency);
      r.agent.push(a.frames / a.seconds);
      r.cpuPerFrame.agent.push(a.cpuMs / a.frames);
      const s = await shipped(r.concurrency);
      r.shipped.push(s.frames / s.seconds);
      r.cpuPerFrame.shipped.push(s.cpuMs / s.frames);
      console.log(
        `  round ${i + 1}, ${r.concurrency} in flight: bare ${round(b.frames / b.seconds)} frames/s; tsx agent ${round(a.frames / a.seconds)} frames/s (node:http client); shipped agent ${round(s.frames / s.seconds)} frames/s (node:http); CPU per frame: bare ${round(b.cpuMs / b.frames, 2)} ms, tsx agent ${round(a.cpuMs / a.frames, 2)} ms, shipped agent ${round(s.cpuMs / s.frames, 2)} ms`,
      );
    }
    const f = await tsx('fetch', o.concurrency);
    fetch.push(f.frames / f.seconds);
    console.log(
      `  round ${i + 1}, ${o.concurrency} in flight: tsx agent ${round(f.frames / f.seconds)} frames/s (fetch client)`,
    );
  }
  return { sequential, concurrent, fetch };
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
