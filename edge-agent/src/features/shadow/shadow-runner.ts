// Runs the shadow model beside the active one. It listens to the `frame` event the inference feature
// emits after each successful request, samples a `rate` share of frames and runs the shadow on them
// off the request path, one at a time: a sampled frame that arrives while the previous run is still
// going is skipped (and counted), so the shadow never queues work or slows the caller down. Each run
// compares the two models' top-1 labels and reports `shadowInference`; a shadow error is counted
// there too and never reaches the main path.
import type { ModelRef, PreprocessingSpec } from '@edgeloop/shared';
import type { AgentEventBus, AgentEvents } from '../../event-bus.ts';
import type { ModelSession } from '../../inference.ts';
import { type AgentLogger, errorFields } from '../../log.ts';
import type { AgentMetrics } from '../../metrics.ts';
import { type ImageInput, ImagePreprocessor } from '../../preprocess.ts';

export interface ShadowModel {
  session: ModelSession;
  ref: ModelRef;
  /** Share of frames to run on, 0..1. */
  rate: number;
}

interface Installed extends ShadowModel {
  preprocessor: ImagePreprocessor;
  running: boolean;
  retired: boolean;
  errors: number;
}

/** What a run needs from a frame, copied: the caller may reuse its buffers once the event returns. */
type ShadowInput = { tensor: Float32Array } | { image: ImageInput };

export interface ShadowRunnerOptions {
  bus: AgentEventBus;
  metrics: AgentMetrics;
  logger: AgentLogger;
  maxImageBytes: number;
  /** Source of randomness for sampling (tests pass a seeded one). */
  random?: () => number;
}

export class ShadowRunner {
  #current: Installed | null = null;
  #running: Promise<void> | null = null;

  constructor(private readonly o: ShadowRunnerOptions) {}

  get model(): ModelRef | null {
    return this.#current?.ref ?? null;
  }

  start(): void {
    this.o.bus.on('frame', this, (frame) => this.#offer(frame));
  }

  /** Installs `next` (or nothing); the old session is released once its run in flight, if any, ends. */
  async install(next: ShadowModel | null): Promise<void> {
    const old = this.#current;
    this.#current = next
      ? {
          ...next,
          preprocessor: new ImagePreprocessor(next.session.manifest.preprocessing, {
            maxInputBytes: this.o.maxImageBytes,
          }),
          running: false,
          retired: false,
          errors: 0,
        }
      : null;
    if (old) {
      old.retired = true;
      if (!old.running) await old.session.dispose();
    }
  }

  setRate(rate: number): void {
    if (this.#current) this.#current.rate = rate;
  }

  /** Settles when no shadow run is in flight (tests, orderly shutdown). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async stop(): Promise<void> {
    this.o.bus.removeListeners(this);
    await this.idle();
    await this.install(null);
  }

  #offer(frame: AgentEvents['frame']): void {
    const shadow = this.#current;
    if (!shadow || shadow.rate <= 0) return;
    if (shadow.rate < 1 && (this.o.random ?? Math.random)() >= shadow.rate) return;
    if (this.#running) {
      this.o.metrics.shadowSkipped.inc({ reason: 'busy' });
      return;
    }
    // The main model's tensor fits the shadow when both preprocess alike; otherwise start from the image.
    const input: ShadowInput = sameSpec(frame.preprocessing, shadow.preprocessor.spec)
      ? { tensor: frame.tensor.slice() }
      : { image: copyImage(frame.image) };
    shadow.running = true;
    // setImmediate: the run starts after the request has had its answer.
    this.#running = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.#run(shadow, input, frame.label))
      .finally(() => {
        this.#running = null;
      });
  }

  async #run(shadow: Installed, input: ShadowInput, mainLabel: string): Promise<void> {
    try {
      const tensor = 'tensor' in input ? input.tensor : await shadow.preprocessor.tensor(input.image);
      const result = shadow.session.rank(await shadow.session.run(tensor, 1), 1);
      // Labels, not indices: a shadow may order or extend its classes differently.
      const agreed = result.label === mainLabel;
      this.o.metrics.shadowInferences.inc({ outcome: agreed ? 'agreed' : 'disagreed' });
      this.o.bus.emit('shadowInference', {
        model: shadow.ref,
        ok: true,
        agreed,
        latencyMs: result.latencyMs,
      });
    } catch (err) {
      shadow.errors++;
      this.o.metrics.shadowInferences.inc({ outcome: 'error' });
      this.o.bus.emit('shadowInference', { model: shadow.ref, ok: false });
      // The first error of a shadow model, then every 100th: a broken shadow must not flood the log.
      if (shadow.errors % 100 === 1) {
        this.o.logger.warn('shadow.inference_failed', {
          sha256: shadow.ref.sha256,
          errors: shadow.errors,
          ...errorFields(err),
        });
      }
    } finally {
      shadow.running = false;
      if (shadow.retired) {
        await shadow.session
          .dispose()
          .catch((err) => this.o.logger.warn('shadow.dispose_failed', errorFields(err)));
      }
    }
  }
}

/** Both specs come out of the same schema, so equal specs serialise alike. */
function sameSpec(a: PreprocessingSpec, b: PreprocessingSpec): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

function copyImage(image: ImageInput): ImageInput {
  return image instanceof Uint8Array ? image.slice() : { ...image, data: image.data.slice() };
}
