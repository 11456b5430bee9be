// Serves the active model. A swap installs the new session for every request that starts after it;
// requests already running finish on the session they started with, and the old session is released
// only when the last of them is done — so an activation never drops or fails a request.
import { EdgeloopError, FeatureExtractor, type ModelRef } from '@edgeloop/shared';
import type { AgentEventBus, AgentEvents } from '../event-bus.ts';
import { type Classification, concreteInputShape, type ModelSession } from '../inference.ts';
import type { AgentMetrics } from '../metrics.ts';
import { type ImageInput, ImagePreprocessor } from '../preprocess.ts';

export interface ServingModel {
  session: ModelSession;
  ref: ModelRef;
}

interface Loaded extends ServingModel {
  preprocessor: ImagePreprocessor;
  /** Drift features of each inference, when the manifest says how to sketch them. */
  extractor: FeatureExtractor | null;
  inFlight: number;
  retired: boolean;
  /** The input dims of one frame, worked out on the first and kept (the same for every frame). */
  frameShape: number[] | null;
}

export interface InferenceResult extends Classification {
  model: ModelRef;
}

/** What a caller may say about a frame besides its pixels. */
export interface InferenceOptions {
  /**
   * The frame's true class (index into the model's classes), when the caller knows it: the
   * simulator's camera does. It travels into retraining samples; it never changes the prediction.
   */
  label?: number;
}

export function modelRef(manifest: ModelSession['manifest']): ModelRef {
  return {
    name: manifest.name,
    version: manifest.version,
    variant: manifest.variant,
    sha256: manifest.sha256,
  };
}

/**
 * The feature extractor for a manifest with a `sketchSpec`; null without one (older versions, or a
 * registry that recorded no reference profile), and then windows carry no sketches.
 */
function extractorFor(manifest: ModelSession['manifest']): FeatureExtractor | null {
  const spec = manifest.sketchSpec;
  if (!spec) return null;
  return new FeatureExtractor({
    preprocessing: manifest.preprocessing,
    classes: manifest.classes.length,
    ...(spec.projection ? { projection: spec.projection } : {}),
  });
}

export class InferenceFeature {
  #current: Loaded | null = null;
  #inFlight = 0;

  constructor(
    private readonly bus: AgentEventBus,
    private readonly metrics: AgentMetrics,
    private readonly limits: { maxImageBytes: number },
  ) {}

  get model(): ModelRef | null {
    return this.#current?.ref ?? null;
  }

  get classCount(): number {
    return this.#current?.session.manifest.classes.length ?? 0;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  start(): void {}

  /** Installs `next` (or nothing) for new requests and releases the old session once it is idle. */
  async swap(next: ServingModel | null): Promise<void> {
    const old = this.#current;
    this.#current = next
      ? {
          ...next,
          preprocessor: new ImagePreprocessor(next.session.manifest.preprocessing, {
            maxInputBytes: this.limits.maxImageBytes,
          }),
          extractor: extractorFor(next.session.manifest),
          inFlight: 0,
          retired: false,
          frameShape: null,
        }
      : null;
    this.metrics.setModel(this.model);
    if (old) {
      old.retired = true;
      if (old.inFlight === 0) await old.session.dispose();
    }
  }

  async classify(image: ImageInput, topK = 3, options: InferenceOptions = {}): Promise<InferenceResult> {
    const model = this.#current;
    if (!model) {
      this.#record({ ok: false, model: null, code: 'UNAVAILABLE' });
      throw new EdgeloopError('UNAVAILABLE', 'no model is active yet');
    }
    const { label } = options;
    const classes = model.session.manifest.classes.length;
    if (label !== undefined && !(Number.isInteger(label) && label >= 0 && label < classes)) {
      this.#record({ ok: false, model: model.ref, code: 'VALIDATION_FAILED' });
      throw new EdgeloopError(
        'VALIDATION_FAILED',
        `label must be a class index from 0 to ${classes - 1} of ${model.ref.name}@${model.ref.version}, got ${label}`,
      );
    }
    model.inFlight++;
    this.#inFlight++;
    this.metrics.queueDepth.set(this.#inFlight);
    try {
      const tensor = await model.preprocessor.tensor(image);
      const outputs = await model.session.run(tensor, 1);
      const result = model.session.rank(outputs, topK);
      this.metrics.inferenceLatency.observe({ model_version: model.ref.version }, result.latencyMs / 1000);
      const sketch = model.extractor && model.session.manifest.sketchSpec;
      this.#record({
        ok: true,
        model: model.ref,
        latencyMs: result.latencyMs,
        classIndex: result.classIndex,
        confidence: result.confidence,
        ...(model.extractor && sketch
          ? {
              sketch: {
                spec: sketch,
                sample: model.extractor.observe({
                  input: tensor,
                  probabilities: outputs.probabilities,
                  ...(outputs.embedding ? { embedding: outputs.embedding } : {}),
                }),
              },
            }
          : {}),
      });
      model.frameShape ??= concreteInputShape(model.session.manifest.input.shape, tensor.length, 1);
      this.bus.emit('frame', {
        model: model.ref,
        image,
        tensor,
        preprocessing: model.preprocessor.spec,
        label: result.label,
        classIndex: result.classIndex,
        confidence: result.confidence,
        shape: model.frameShape,
        ...(label === undefined ? {} : { groundTruth: label }),
      });
      return { ...result, model: model.ref };
    } catch (err) {
      const code = err instanceof EdgeloopError ? err.code : 'INTERNAL';
      this.#record({ ok: false, model: model.ref, code });
      throw err;
    } finally {
      model.inFlight--;
      this.#inFlight--;
      this.metrics.queueDepth.set(this.#inFlight);
      if (model.retired && model.inFlight === 0) await model.session.dispose();
    }
  }

  #record(event: AgentEvents['inference']): void {
    this.metrics.inferences.inc({ outcome: event.ok ? 'ok' : 'error' });
    if (!event.ok) this.metrics.inferenceErrors.inc({ code: event.code });
    this.bus.emit('inference', event);
  }

  async stop(): Promise<void> {
    await this.swap(null);
  }
}
