// One model in a page: a verified onnxruntime-web session plus its manifest, classification, and
// updates. Runs on one session are serialised (onnxruntime-web sessions are not re-entrant); an
// update is loaded completely beside the running model and swapped in between two runs, so a
// classify call never sees a half-loaded model and a failed update leaves the old one serving.
import { FeatureExtractor, inputShape, type ModelManifest, type ModelRef } from '@edgeloop/shared';
import {
  type ArtifactFetcher,
  type ArtifactSource,
  obtainArtifact,
  resolveSigned,
  type VerifiedArtifact,
} from './artifacts.ts';
import { asWebError, EdgeloopWebError } from './errors.ts';
import { type ImageSource, toInputTensor } from './preprocess.ts';
import { type Backend, createModelSession, type ModelSession, type RuntimeOptions } from './runtime.ts';
import { type ClassScore, probabilitiesFrom, topK } from './scores.ts';
import type { WebTelemetry } from './telemetry.ts';

/** Which artifact is serving, and how. */
export interface ModelInfo {
  name: string;
  version: string;
  variant: string;
  sha256: string;
  alias: string;
  backend: Backend;
  /** Intra-op threads (more than 1 only on cross-origin isolated pages). */
  threads: number;
  /** Whether this artifact was read from Cache Storage or downloaded. */
  source: ArtifactSource;
}

/** The result of `classify`. */
export interface Classification extends ClassScore {
  /** Best classes first. */
  topK: ClassScore[];
  /** Wall time of the onnxruntime run, milliseconds. */
  latencyMs: number;
  /** Wall time of decoding and preprocessing the image, milliseconds. */
  preprocessMs: number;
  model: { name: string; version: string; variant: string };
}

/** Passed to `onUpdate` listeners after a new version has been swapped in. */
export interface ModelUpdate {
  previous: ModelInfo;
  current: ModelInfo;
}

/** How the model follows its alias (internal: built by `load`). */
export interface ModelContext {
  fetcher: ArtifactFetcher;
  model: string;
  alias: string;
  deviceClass: string;
  runtime: RuntimeOptions;
  /** Absent when the app opted out (`telemetry: false`). */
  telemetry?: WebTelemetry;
}

interface Active {
  manifest: ModelManifest;
  session: ModelSession;
  info: ModelInfo;
  ref: ModelRef;
  /** Drift features per inference, when the manifest says how to sketch them (`sketchSpec`). */
  extractor: FeatureExtractor | null;
}

function extractorFor(manifest: ModelManifest): FeatureExtractor | null {
  const spec = manifest.sketchSpec;
  if (!spec) return null;
  return new FeatureExtractor({
    preprocessing: manifest.preprocessing,
    classes: manifest.classes.length,
    ...(spec.projection ? { projection: spec.projection } : {}),
  });
}

async function activate(ctx: ModelContext, artifact: VerifiedArtifact): Promise<Active> {
  const { manifest } = artifact.resolution;
  const session = await createModelSession(artifact.bytes, manifest, ctx.runtime);
  const { name, version, variant, sha256 } = manifest;
  return {
    manifest,
    session,
    ref: { name, version, variant, sha256 },
    extractor: extractorFor(manifest),
    info: {
      name: manifest.name,
      version: manifest.version,
      variant: manifest.variant,
      sha256: manifest.sha256,
      alias: artifact.resolution.alias,
      backend: session.backend,
      threads: session.threads,
      source: artifact.source,
    },
  };
}

/**
 * A loaded, verified model. Create it with `load()`.
 *
 * @example
 * const model = await edgeloop.load({ cloud, appKey, model: 'digits', alias: 'champion' });
 * const { label, confidence } = await model.classify(canvas);
 * model.onUpdate(({ current }) => console.log('now running', current.version));
 */
export class EdgeloopModel {
  private active: Active;
  private queue: Promise<unknown> = Promise.resolve();
  private updating: Promise<boolean> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private disposed = false;
  private readonly updateListeners = new Set<(update: ModelUpdate) => void>();
  private readonly errorListeners = new Set<(error: EdgeloopWebError) => void>();

  private constructor(
    private readonly ctx: ModelContext,
    first: Active,
  ) {
    this.active = first;
    ctx.telemetry?.useModel(first.ref, first.manifest.classes.length);
    ctx.telemetry?.onRefused((error) => this.emitError(error));
  }

  private emitError(error: EdgeloopWebError): void {
    for (const listener of this.errorListeners) listener(error);
  }

  /** Loads the first artifact into a session (internal: use `load`). */
  static async create(ctx: ModelContext, artifact: VerifiedArtifact): Promise<EdgeloopModel> {
    return new EdgeloopModel(ctx, await activate(ctx, artifact));
  }

  /** The signed manifest of the serving version. */
  get manifest(): ModelManifest {
    return this.active.manifest;
  }

  /**
   * The page's telemetry reporter (undefined with `telemetry: false`): `status()` and `flush()`.
   *
   * @example
   * await model.telemetry?.flush();
   * console.log(model.telemetry?.status().sentWindows);
   */
  get telemetry(): WebTelemetry | undefined {
    return this.ctx.telemetry;
  }

  /** Name, version, variant, backend and cache source of the serving version. */
  get info(): ModelInfo {
    return { ...this.active.info };
  }

  /** Runs `fn` after everything queued before it; a failure does not block later work. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private assertLive(): void {
    if (this.disposed) throw new EdgeloopWebError('UNAVAILABLE', 'model has been disposed');
  }

  /**
   * Classifies one image: preprocessing per the manifest, inference, top-k.
   *
   * @example
   * const result = await model.classify(imageElement, { topK: 3 });
   * console.log(result.label, result.confidence, result.latencyMs);
   */
  async classify(source: ImageSource, options: { topK?: number } = {}): Promise<Classification> {
    this.assertLive();
    return this.exclusive(async () => {
      this.assertLive();
      // Captured under the queue: the tensor is shaped for exactly the model that runs it.
      const active = this.active;
      try {
        const result = await this.run(active, source, options.topK ?? 5);
        return result;
      } catch (err) {
        this.ctx.telemetry?.recordError();
        throw err;
      }
    });
  }

  private async run(active: Active, source: ImageSource, k: number): Promise<Classification> {
    const { manifest, session } = active;
    const started = performance.now();
    const tensor = await toInputTensor(source, manifest.preprocessing);
    const preprocessed = performance.now();
    let outputs: Record<string, Float32Array>;
    try {
      outputs = await session.run(tensor, inputShape(manifest.preprocessing, 1));
    } catch (err) {
      throw asWebError(err, 'INTERNAL', `inference with ${manifest.name}@${manifest.version} failed`);
    }
    const latencyMs = performance.now() - preprocessed;
    const probabilities = probabilitiesFrom(outputs, manifest);
    const best = topK(probabilities, manifest.classes, k);
    const top = best[0] as ClassScore;
    this.ctx.telemetry?.recordInference({
      latencyMs,
      classIndex: top.classIndex,
      confidence: top.confidence,
      model: active.ref,
      ...this.driftSample(active, tensor, probabilities, outputs),
    });
    return {
      ...top,
      topK: best,
      latencyMs,
      preprocessMs: preprocessed - started,
      model: { name: manifest.name, version: manifest.version, variant: manifest.variant },
    };
  }

  /** The inference's drift features for telemetry; none when telemetry is off or cannot sketch. */
  private driftSample(
    { manifest, extractor }: Active,
    input: Float32Array,
    probabilities: Float32Array,
    outputs: Record<string, Float32Array>,
  ) {
    const spec = manifest.sketchSpec;
    if (!this.ctx.telemetry || !extractor || !spec) return {};
    const embeddingName = manifest.outputs.find((o) => o.role === 'embedding')?.name;
    const embedding = embeddingName === undefined ? undefined : outputs[embeddingName];
    try {
      return {
        sketch: {
          spec,
          sample: extractor.observe({ input, probabilities, ...(embedding ? { embedding } : {}) }),
        },
      };
    } catch {
      return {}; // a model whose outputs disagree with its spec still classifies; it just sends no sketch
    }
  }

  /**
   * Asks the cloud where the alias points now; if it moved, downloads, verifies and loads the new
   * version, then swaps it in. Resolves true when a new version is serving. Concurrent calls share
   * one check.
   *
   * @example
   * if (await model.checkForUpdate()) console.log('updated to', model.info.version);
   */
  checkForUpdate(): Promise<boolean> {
    this.assertLive();
    this.updating ??= this.update().finally(() => {
      this.updating = undefined;
    });
    return this.updating;
  }

  private async update(): Promise<boolean> {
    const { fetcher, model, alias, deviceClass } = this.ctx;
    const resolution = await resolveSigned(fetcher, model, alias, deviceClass);
    if (resolution.manifest.sha256 === this.active.manifest.sha256) return false;
    const next = await activate(this.ctx, await obtainArtifact(fetcher, resolution));
    if (this.disposed) {
      await next.session.release();
      return false;
    }
    const previous = await this.exclusive(async () => {
      const old = this.active;
      this.active = next;
      this.ctx.telemetry?.useModel(next.ref, next.manifest.classes.length);
      return old;
    });
    await previous.session.release().catch(() => undefined);
    await fetcher.cache?.prune(model, [next.manifest.sha256]).catch(() => undefined);
    const event = { previous: previous.info, current: this.info };
    for (const listener of this.updateListeners) listener(event);
    return true;
  }

  /**
   * Calls `listener` after each update has been swapped in. Returns an unsubscribe function.
   *
   * @example
   * const off = model.onUpdate(({ previous, current }) => toast(`${previous.version} → ${current.version}`));
   */
  onUpdate(listener: (update: ModelUpdate) => void): () => void {
    this.updateListeners.add(listener);
    return () => this.updateListeners.delete(listener);
  }

  /**
   * Calls `listener` when a background (interval) update fails — the old version keeps serving — or
   * when the cloud refuses the app key for telemetry (telemetry then stops; classification goes on).
   *
   * @example
   * model.onError((err) => console.warn(err.code, err.message));
   */
  onError(listener: (error: EdgeloopWebError) => void): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  /**
   * Checks for updates every `intervalMs` (the next check is scheduled after the previous ends, so
   * slow networks never stack checks). `stopUpdates()` or `dispose()` ends it.
   *
   * @example
   * model.startUpdates(10 * 60_000);
   */
  startUpdates(intervalMs: number): void {
    this.assertLive();
    if (!(intervalMs > 0))
      throw new EdgeloopWebError('VALIDATION_FAILED', 'update interval must be positive');
    this.stopUpdates();
    const tick = (): void => {
      this.timer = setTimeout(() => {
        this.checkForUpdate()
          .catch((err: unknown) => {
            const error = asWebError(err, 'INTERNAL', 'background update failed');
            this.emitError(error);
          })
          .finally(() => {
            if (!this.disposed && this.timer !== undefined) tick();
          });
      }, intervalMs);
    };
    tick();
  }

  /** Stops interval update checks. */
  stopUpdates(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Stops updates and releases the session once queued runs finish.
   *
   * @example
   * await model.dispose();
   */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.stopUpdates();
    await this.exclusive(() => this.active.session.release());
    await this.ctx.telemetry?.dispose();
  }
}
