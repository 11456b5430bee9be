import {
  createSession,
  type InferenceSession,
  imageTensor,
  type SessionConfigEntries,
} from '../onnx/index.ts';

export interface LatencyStats {
  p50: number;
  p95: number;
  samples: number;
}

export interface LatencySubject {
  bytes: Uint8Array;
  configEntries?: SessionConfigEntries;
}

export interface LatencyInput {
  name: string;
  data: Float32Array;
  dims: number[];
}

export interface LatencySettings {
  /** Timed samples per subject. */
  samples: number;
  /** Runs averaged inside one sample: sub-0.1 ms models need several to rise above timer noise. */
  runsPerSample: number;
  warmup: number;
}

export const DEFAULT_LATENCY: LatencySettings = { samples: 200, runsPerSample: 5, warmup: 20 };

/**
 * Milliseconds per run for each subject, one intra-op thread. Subjects are measured interleaved
 * (A, B, C, A, B, C, ...) with the order rotated each round, so machine noise from other processes
 * falls on all of them alike and ratios between them stay meaningful.
 */
export async function measureLatencies(
  subjects: LatencySubject[],
  input: LatencyInput,
  settings: LatencySettings = DEFAULT_LATENCY,
): Promise<LatencyStats[]> {
  const sessions: InferenceSession[] = [];
  for (const s of subjects)
    sessions.push(await createSession(s.bytes, s.configEntries ? { configEntries: s.configEntries } : {}));
  const feeds = { [input.name]: imageTensor(input.data, input.dims) };
  for (const session of sessions) for (let i = 0; i < settings.warmup; i++) await session.run(feeds);
  const times = sessions.map(() => [] as number[]);
  for (let round = 0; round < settings.samples; round++) {
    for (let k = 0; k < sessions.length; k++) {
      const index = (k + round) % sessions.length;
      const session = sessions[index]!;
      const started = performance.now();
      for (let r = 0; r < settings.runsPerSample; r++) await session.run(feeds);
      times[index]!.push((performance.now() - started) / settings.runsPerSample);
    }
  }
  await Promise.all(sessions.map((s) => s.release()));
  return times.map((t) => summarize(t));
}

export function summarize(times: number[]): LatencyStats {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return { p50: at(0.5), p95: at(0.95), samples: sorted.length };
}
