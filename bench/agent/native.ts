// sharp and onnxruntime-node are the agent's dependencies, not the bench's: they are loaded from the
// edge-agent package, typed here as far as the bench uses them.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const agentRequire = createRequire(
  join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'edge-agent', 'package.json'),
);

interface SharpChain {
  autoOrient(): SharpChain;
  flatten(o: { background: string }): SharpChain;
  removeAlpha(): SharpChain;
  toColourspace(space: string): SharpChain;
  resize(w: number, h: number, o: { fit: string }): SharpChain;
  greyscale(): SharpChain;
  raw(): SharpChain;
  jpeg(o: { quality: number }): SharpChain;
  toBuffer(): Promise<Buffer>;
}
export type Sharp = (
  input: Buffer | Uint8Array,
  options?: { raw: { width: number; height: number; channels: number } },
) => SharpChain;
interface OrtTensor {
  data: Float32Array;
}
export interface OrtSession {
  inputNames: readonly string[];
  outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
export interface Ort {
  InferenceSession: { create(bytes: Uint8Array, options: Record<string, unknown>): Promise<OrtSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => OrtTensor;
}

export const loadSharp = () => agentRequire('sharp') as Sharp;
export const loadOrt = () => agentRequire('onnxruntime-node') as Ort;
