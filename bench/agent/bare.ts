// The bare path: what the agent does for a frame with no agent around it. The agent's own sharp
// chain (orient, flatten, resize to 28×28, sRGB, then the shared RGB→grey; edge-agent/src/
// preprocess.ts), so the two differ by the agent and nothing else, a float loop, then onnxruntime
// `session.run` with the agent's model bytes and session options (1 + 1 threads, as profile
// `simulated`). Runs in a child process of its own
// (bench/agent/child.ts), so the agent's RSS is the agent's alone.
import { rgbToGrey } from '@edgeloop/shared';
import { loadOrt, loadSharp } from './native.ts';

export interface ServingModelBytes {
  bytes: Uint8Array;
  sessionOptions: Record<string, string>;
}

/**
 * Frames through the bare path in this process for `seconds`, with `concurrency` frames in flight
 * (that many decode + run pipelines, each starting its next frame when its last is done: what the
 * agent sees from a client with as many requests in flight), and the process's CPU time meanwhile.
 */
export async function bare(
  jpeg: Buffer,
  seconds: number,
  model: ServingModelBytes,
  concurrency = 1,
): Promise<{ frames: number; seconds: number; cpuMs: number }> {
  const sharp = loadSharp();
  const ort = loadOrt();
  const session: Record<string, string> = {};
  for (const [k, v] of Object.entries(model.sessionOptions)) session[k.replace(/^session\./, '')] = v;
  const s = await ort.InferenceSession.create(model.bytes, {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    extra: { session },
  });
  const input = s.inputNames[0] as string;
  const one = async () => {
    const rgb = await sharp(jpeg)
      .autoOrient()
      .flatten({ background: '#000000' })
      .resize(28, 28, { fit: 'fill' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer();
    const pixels = rgbToGrey(new Uint8Array(rgb.buffer, rgb.byteOffset, rgb.byteLength));
    const x = new Float32Array(784);
    for (let i = 0; i < 784; i++) x[i] = (pixels[i] ?? 0) / 255;
    await s.run({ [input]: new ort.Tensor('float32', x, [1, 1, 28, 28]) });
  };
  try {
    for (let i = 0; i < 20; i++) await one();
    let frames = 0;
    const cpu = process.cpuUsage();
    const started = performance.now();
    const pipeline = async () => {
      while (performance.now() - started < seconds * 1000) {
        await one();
        frames++;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, pipeline));
    const used = process.cpuUsage(cpu);
    return { frames, seconds: (performance.now() - started) / 1000, cpuMs: (used.user + used.system) / 1000 };
  } finally {
    await s.release();
  }
}
