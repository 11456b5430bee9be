// The baseline the browser is held against: the same ONNX bytes in onnxruntime-node (the cloud's,
// the one createSession uses), same session options and thread count, in this process.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Artifact } from './cloud.ts';
import { type Stats, stats } from './stats.ts';

const bench = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Latency of `variant` on `threads` intra-op threads for input `x` ([1,1,28,28]), after a warm-up. */
export async function nodeLatency(
  artifacts: Record<string, Artifact>,
  variant: string,
  threads: number,
  options: { x: Float32Array; warmup: number; runs: number },
): Promise<Stats> {
  const { createSession } = await import('@edgeloop/cloud');
  // The cloud's onnxruntime-node (the one createSession uses) for the input tensor.
  const { Tensor } = createRequire(join(bench, '..', 'cloud', 'package.json'))('onnxruntime-node') as {
    Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
  };
  const a = artifacts[variant];
  if (!a) throw new Error(`no artifact ${variant}`);
  const session = await createSession(a.bytes, { threads, configEntries: a.sessionOptions });
  const feeds = { [a.input]: new Tensor('float32', options.x, [1, 1, 28, 28]) } as Parameters<
    typeof session.run
  >[0];
  for (let i = 0; i < options.warmup; i++) await session.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < options.runs; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t0);
  }
  await session.release();
  return stats(times);
}
