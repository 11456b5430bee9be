// One loaded model: an onnxruntime-node session plus what the manifest says about its outputs. The
// profile picks execution providers in order of preference; providers this build or machine lacks
// (cuda without its libraries, coreml on Linux) fall back along the list and finally to cpu.
import { performance } from 'node:perf_hooks';
import {
  type DeviceProfile,
  EdgeloopError,
  type ExecutionProvider,
  inputShape,
  type ModelManifest,
} from '@edgeloop/shared';
import ort from 'onnxruntime-node';

export type RuntimeProfile = Pick<DeviceProfile, 'executionProviders' | 'threads'>;

export interface ProviderFallback {
  provider: ExecutionProvider;
  reason: string;
}

export interface ModelOutputs {
  /** Per-class probabilities, batch-major (softmax of the logits when the model has no probabilities). */
  probabilities: Float32Array;
  logits?: Float32Array;
  embedding?: Float32Array;
  /** Wall time of `session.run`, milliseconds. */
  latencyMs: number;
}

export interface ClassScore {
  classIndex: number;
  label: string;
  confidence: number;
}

export interface Classification extends ClassScore {
  /** Highest scores first, `topK` long (at most the number of classes). */
  topK: ClassScore[];
  latencyMs: number;
}

/** The session options for one provider: threads from the profile, config entries from the manifest. */
export function sessionOptionsFor(
  provider: ExecutionProvider,
  manifest: Pick<ModelManifest, 'sessionOptions'>,
  profile: RuntimeProfile,
): ort.InferenceSession.SessionOptions {
  // Manifest keys are full config keys ("session.disable_quant_qdq"); onnxruntime-node wants them
  // nested under `extra` and joins the path back with dots.
  const session: Record<string, string> = {};
  for (const [key, value] of Object.entries(manifest.sessionOptions)) {
    session[key.startsWith('session.') ? key.slice('session.'.length) : key] = value;
  }
  return {
    executionProviders: [provider],
    intraOpNumThreads: profile.threads.intraOp,
    interOpNumThreads: profile.threads.interOp,
    executionMode: profile.threads.interOp > 1 ? 'parallel' : 'sequential',
    graphOptimizationLevel: 'all',
    extra: { session },
  };
}

export function softmax(logits: Float32Array, classes: number): Float32Array {
  const out = new Float32Array(logits.length);
  for (let row = 0; row < logits.length; row += classes) {
    let max = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < classes; i++) max = Math.max(max, logits[row + i] ?? 0);
    let sum = 0;
    for (let i = 0; i < classes; i++) {
      const e = Math.exp((logits[row + i] ?? 0) - max);
      out[row + i] = e;
      sum += e;
    }
    for (let i = 0; i < classes; i++) out[row + i] = (out[row + i] ?? 0) / sum;
  }
  return out;
}

/** Concrete input dims for `batch` images: the first symbolic dim is the batch, any other is inferred. */
export function concreteInputShape(
  shape: readonly (number | string)[],
  elements: number,
  batch: number,
): number[] {
  const dims = shape.map((d, i) => (typeof d === 'number' ? d : i === 0 ? batch : -1));
  const known = dims.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const unknown = dims.filter((d) => d === -1).length;
  if (unknown > 1 || (unknown === 0 && known !== elements) || (unknown === 1 && elements % known !== 0)) {
    throw new EdgeloopError(
      'VALIDATION_FAILED',
      `input of ${elements} values does not fit shape [${shape.join(', ')}] with batch ${batch}`,
    );
  }
  return dims.map((d) => (d === -1 ? elements / known : d));
}

export class ModelSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly manifest: ModelManifest,
    /** The provider the session actually runs on. */
    readonly executionProvider: ExecutionProvider,
    /** Preferred providers that could not be used, and why. */
    readonly fallbacks: readonly ProviderFallback[],
  ) {}

  /** Creates a session from artifact bytes (verify them first: see verify.ts). */
  static async create(
    bytes: Uint8Array,
    manifest: ModelManifest,
    profile: RuntimeProfile,
  ): Promise<ModelSession> {
    const candidates = [...profile.executionProviders];
    if (!candidates.includes('cpu')) candidates.push('cpu');
    const fallbacks: ProviderFallback[] = [];
    for (const provider of candidates) {
      let session: ort.InferenceSession;
      try {
        session = await ort.InferenceSession.create(bytes, sessionOptionsFor(provider, manifest, profile));
      } catch (err) {
        fallbacks.push({ provider, reason: (err as Error).message.split('\n')[0] ?? String(err) });
        // The cpu provider is always present: a cpu failure means the model itself is bad.
        if (provider === 'cpu') {
          throw new EdgeloopError(
            'MODEL_LOAD_FAILED',
            `onnxruntime cannot load ${describe(manifest)}: ${fallbacks.at(-1)?.reason}`,
            {
              cause: err,
              details: { fallbacks },
            },
          );
        }
        continue;
      }
      const model = new ModelSession(session, manifest, provider, fallbacks);
      try {
        model.checkSignature();
      } catch (err) {
        await session.release();
        throw err;
      }
      return model;
    }
    throw new EdgeloopError('MODEL_LOAD_FAILED', `no execution provider could load ${describe(manifest)}`);
  }

  /** The manifest must describe the graph it came with: same input and output names. */
  private checkSignature(): void {
    const missing = [this.manifest.input.name, ...this.manifest.outputs.map((o) => o.name)].filter(
      (name) => !this.session.inputNames.includes(name) && !this.session.outputNames.includes(name),
    );
    if (missing.length > 0) {
      throw new EdgeloopError(
        'MODEL_INVALID',
        `${describe(this.manifest)}: graph has no tensor named ${missing.join(', ')} (inputs ${this.session.inputNames.join(', ')}; outputs ${this.session.outputNames.join(', ')})`,
      );
    }
    if (this.manifest.input.dtype !== 'float32') {
      // Quantized variants keep float inputs (QDQ); the registry produces no integer-input graphs.
      throw new EdgeloopError(
        'MODEL_INVALID',
        `${describe(this.manifest)}: input dtype ${this.manifest.input.dtype} is not supported (float32 only)`,
      );
    }
    if (!this.manifest.outputs.some((o) => o.role === 'probabilities' || o.role === 'logits')) {
      throw new EdgeloopError(
        'MODEL_INVALID',
        `${describe(this.manifest)}: no output has role probabilities or logits`,
      );
    }
  }

  /** Runs the graph and returns the named outputs as float arrays. */
  async runOutputs(
    input: Float32Array,
    batch = 1,
  ): Promise<{ outputs: Record<string, Float32Array>; latencyMs: number }> {
    const dims = concreteInputShape(this.manifest.input.shape, input.length, batch);
    const feeds = { [this.manifest.input.name]: new ort.Tensor('float32', input, dims) };
    const started = performance.now();
    let results: ort.InferenceSession.ReturnType;
    try {
      results = await this.session.run(feeds);
    } catch (err) {
      throw new EdgeloopError(
        'INTERNAL',
        `inference failed on ${describe(this.manifest)}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    const latencyMs = performance.now() - started;
    const outputs: Record<string, Float32Array> = {};
    for (const [name, tensor] of Object.entries(results)) {
      outputs[name] =
        tensor.data instanceof Float32Array
          ? tensor.data
          : Float32Array.from(tensor.data as ArrayLike<number>);
    }
    return { outputs, latencyMs };
  }

  /** Outputs by their manifest roles. */
  async run(input: Float32Array, batch = 1): Promise<ModelOutputs> {
    const { outputs, latencyMs } = await this.runOutputs(input, batch);
    const byRole = (role: string) => {
      const spec = this.manifest.outputs.find((o) => o.role === role);
      return spec ? outputs[spec.name] : undefined;
    };
    const logits = byRole('logits');
    const classes = this.manifest.classes.length;
    const probabilities = byRole('probabilities') ?? (logits ? softmax(logits, classes) : undefined);
    if (!probabilities || probabilities.length !== classes * batch) {
      throw new EdgeloopError(
        'MODEL_INVALID',
        `${describe(this.manifest)}: expected ${classes * batch} class scores, got ${probabilities?.length ?? 0}`,
      );
    }
    const embedding = byRole('embedding');
    return {
      probabilities,
      ...(logits ? { logits } : {}),
      ...(embedding ? { embedding } : {}),
      latencyMs,
    };
  }

  /** Top-1 class of a single image, with the `topK` best scores. */
  async classify(input: Float32Array, topK = 3): Promise<Classification> {
    return this.rank(await this.run(input, 1), topK);
  }

  /** The classification of one image's outputs (what `classify` returns, from `run`'s result). */
  rank({ probabilities, latencyMs }: ModelOutputs, topK = 3): Classification {
    // Class indices in order (highest score first, then lowest index), and objects for the top K
    // only: this runs on every request (Array.from over a Float32Array plus an object per class was
    // a visible slice of /infer's own time in the profile, bench/README.md).
    const order: number[] = [];
    for (let i = 0; i < probabilities.length; i++) order.push(i);
    order.sort((a, b) => (probabilities[b] as number) - (probabilities[a] as number) || a - b);
    const score = (classIndex: number): ClassScore => ({
      classIndex,
      label: this.manifest.classes[classIndex] ?? String(classIndex),
      confidence: probabilities[classIndex] as number,
    });
    const ranked = order.slice(0, Math.max(1, topK)).map(score);
    const best = ranked[0] as ClassScore;
    return { ...best, topK: ranked, latencyMs };
  }

  /** The first runs allocate buffers and pick kernels; run them before measuring or serving. */
  async warmUp(runs = 2): Promise<number> {
    // The preprocessing spec fixes the element count even when the input shape has symbolic dims.
    const zeros = new Float32Array(inputShape(this.manifest.preprocessing, 1).reduce((n, d) => n * d, 1));
    let last = 0;
    for (let i = 0; i < runs; i++) last = (await this.runOutputs(zeros, 1)).latencyMs;
    return last;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

function describe(manifest: ModelManifest): string {
  return `${manifest.name}@${manifest.version}/${manifest.variant}`;
}
