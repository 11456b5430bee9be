// The frame every path is given: what a camera would post to the agent.
import { loadSharp } from './native.ts';

/** A 640×480 camera-like JPEG: an MNIST test digit scaled up, with sensor noise. */
export async function cameraJpeg(): Promise<Buffer> {
  const { loadMnistDataset } = await import('@edgeloop/cloud');
  const sharp = loadSharp();
  const test = loadMnistDataset().test;
  const W = 640;
  const H = 480;
  const rgb = Buffer.alloc(W * H * 3);
  let seed = 7;
  const noise = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return (seed / 0x7fffffff - 0.5) * 24;
  };
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const v = (test.images[Math.floor((y * 28) / H) * 28 + Math.floor((x * 28) / W)] ?? 0) * 255;
      const p = (y * W + x) * 3;
      for (let c = 0; c < 3; c++) rgb[p + c] = Math.max(0, Math.min(255, Math.round(v + noise())));
    }
  }
  return sharp(rgb, { raw: { width: W, height: H, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
}
