import * as ort from 'onnxruntime-node';
import { OnnxFormatError } from './errors.ts';

/**
 * onnxruntime session config entries as flat key/value strings, e.g.
 * `{ 'session.disable_quant_qdq': '1' }`. Carried as data with a model variant (manifest), so the
 * agent and the web SDK open the model the way it was measured.
 */
export type SessionConfigEntries = Record<string, string>;

export interface SessionSettings {
  configEntries?: SessionConfigEntries;
  /** Intra-op threads; 1 by default, as on a small device and for stable latency numbers. */
  threads?: number;
}

/** onnxruntime-node takes config entries as a nested `extra` object whose path is the dotted key. */
export function toExtraOptions(entries: SessionConfigEntries): Record<string, unknown> {
  const extra: Record<string, Record<string, unknown>> = {};
  for (const [key, value] of Object.entries(entries)) {
    const dot = key.indexOf('.');
    const [head, rest] = dot < 0 ? ['', key] : [key.slice(0, dot), key.slice(dot + 1)];
    if (!head) throw new RangeError(`session config key '${key}' needs a section, e.g. 'session.${key}'`);
    extra[head] = { ...(extra[head] ?? {}), [rest]: value };
  }
  return extra;
}

export async function createSession(
  bytes: Uint8Array,
  settings: SessionSettings = {},
): Promise<ort.InferenceSession> {
  const threads = settings.threads ?? 1;
  try {
    return await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      extra: toExtraOptions(settings.configEntries ?? {}),
    });
  } catch (cause) {
    throw new OnnxFormatError(
      'ONNX_RUNTIME_REJECTED',
      `onnxruntime could not load the model: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
}

export function imageTensor(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

export type { InferenceSession, Tensor } from 'onnxruntime-node';
