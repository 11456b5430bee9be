// What every pipeline operation works with: the registry it writes to, the artifact store it reads
// variants from, and the settings of evaluation, quantization and external trainers.
import type { LatencySettings } from '../evaluation/index.ts';
import type { QuantizeOptions } from '../quantization/index.ts';
import type { ArtifactStore, ModelRegistry } from '../registry/index.ts';

export interface ModelPipelineOptions {
  registry: ModelRegistry;
  store: ArtifactStore;
  /** Latency measurement of evaluations (fewer samples in tests). */
  latency?: Partial<LatencySettings>;
  /** Settings passed to the quantizer (its own latency search, calibration size). */
  quantize?: Omit<QuantizeOptions, 'onProgress'>;
  /** Scratch space of external trainers; the OS temp dir by default. */
  workDir?: string;
}

/** The options with their defaults filled in, as the operations receive them. */
export interface PipelineServices {
  readonly registry: ModelRegistry;
  readonly store: ArtifactStore;
  readonly latency: Partial<LatencySettings>;
  readonly quantize: Omit<QuantizeOptions, 'onProgress'>;
  readonly workDir: string | undefined;
}

export function pipelineServices(options: ModelPipelineOptions): PipelineServices {
  return {
    registry: options.registry,
    store: options.store,
    latency: options.latency ?? {},
    quantize: options.quantize ?? {},
    workDir: options.workDir,
  };
}
