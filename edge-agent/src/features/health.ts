// Confirms a newly activated model once it has proven itself: it served `confirmInferences`
// successful inferences, or the agent stayed up `confirmMs` with it. Confirmation clears the boot
// counter in ModelSlots; a model that keeps crashing the agent before that is rolled back at the
// next start (CRASH_LOOP).
import type { ModelRef } from '@edgeloop/shared';
import type { AgentEventBus } from '../event-bus.ts';
import { type AgentLogger, errorFields } from '../log.ts';
import type { ModelSlots } from '../slots.ts';

export interface HealthFeatureOptions {
  bus: AgentEventBus;
  slots: Pick<ModelSlots, 'markHealthy' | 'state'>;
  confirmMs: number;
  confirmInferences: number;
  logger: AgentLogger;
}

export class HealthFeature {
  #watching: ModelRef | null = null;
  #successes = 0;
  #timer: NodeJS.Timeout | null = null;

  constructor(private readonly o: HealthFeatureOptions) {}

  /** `serving` is the model loaded at boot; it is watched when its slot is not yet confirmed. */
  start(serving: ModelRef | null): void {
    this.o.bus.on('modelServing', this, ({ model }) => this.#watch(model));
    this.o.bus.on('inference', this, (event) => {
      if (!event.ok || !this.#watching || event.model.sha256 !== this.#watching.sha256) return;
      if (++this.#successes >= this.o.confirmInferences) void this.#confirm();
    });
    if (serving && !this.o.slots.state.confirmed) this.#watch(serving);
  }

  stop(): void {
    this.o.bus.removeListeners(this);
    this.#clear();
  }

  get watching(): ModelRef | null {
    return this.#watching;
  }

  #watch(model: ModelRef | null): void {
    this.#clear();
    this.#watching = model;
    if (!model) return;
    this.#timer = setTimeout(() => void this.#confirm(), this.o.confirmMs);
    this.#timer.unref();
  }

  #clear(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#watching = null;
    this.#successes = 0;
  }

  async #confirm(): Promise<void> {
    const model = this.#watching;
    if (!model) return;
    this.#clear();
    try {
      await this.o.slots.markHealthy();
      this.o.logger.info('health.model_confirmed', { ...model });
      this.o.bus.emit('modelConfirmed', { model });
    } catch (err) {
      this.o.logger.error('health.confirm_failed', errorFields(err));
    }
  }
}
