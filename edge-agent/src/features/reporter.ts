// Publishes the device's reported state (retained): what it runs, what it ran before, and where it
// is in applying the desired state. Only the latest report matters (it is retained), so while offline
// reports are not queued: the newest is published when the session comes back. Download progress is
// throttled; every other phase change goes out at once.
import {
  channelDelivery,
  type ModelRef,
  reportedStatePayload,
  type ShadowStatus,
  topics,
  type UpdatePhase,
} from '@edgeloop/shared';
import type { AgentConnection } from '../connection.ts';
import { type AgentLogger, errorFields } from '../log.ts';

export interface ReportContext {
  generation: number;
  rolloutId: string | null;
}

export class ReportedPublisher {
  #context: ReportContext = { generation: 0, rolloutId: null };
  #phase: UpdatePhase = { state: 'idle' };
  #lastProgressAt = Number.NEGATIVE_INFINITY;
  #published = 0;

  constructor(
    private readonly options: {
      deviceId: string;
      connection: Pick<AgentConnection, 'connected' | 'publish'>;
      models: () => { active: ModelRef | null; previous: ModelRef | null };
      /** Shadow mode's status, when the desired state names a shadow model. */
      shadow?: () => ShadowStatus | undefined;
      progressIntervalMs: number;
      logger: AgentLogger;
      now?: () => number;
    },
  ) {}

  get phase(): UpdatePhase {
    return this.#phase;
  }

  get context(): ReportContext {
    return this.#context;
  }

  /** Reports published so far (tests, status). */
  get published(): number {
    return this.#published;
  }

  report(phase: UpdatePhase, context: ReportContext = this.#context): void {
    this.#phase = phase;
    this.#context = context;
    if (
      phase.state === 'downloading' &&
      phase.receivedChunks > 0 &&
      phase.receivedChunks < phase.totalChunks
    ) {
      const now = (this.options.now ?? Date.now)();
      if (now - this.#lastProgressAt < this.options.progressIntervalMs) return;
      this.#lastProgressAt = now;
    }
    this.publish();
  }

  /** Publishes the current state; called on every (re)connect too, since a broker may have lost it. */
  publish(): void {
    if (!this.options.connection.connected) return;
    const { active, previous } = this.options.models();
    const shadow = this.options.shadow?.();
    const payload = reportedStatePayload.encode({
      v: 1,
      generation: this.#context.generation,
      rolloutId: this.#context.rolloutId,
      active,
      previous,
      phase: this.#phase,
      ...(shadow ? { shadow } : {}),
      at: (this.options.now ?? Date.now)(),
    });
    this.#published++;
    this.options.connection
      .publish(topics.reported(this.options.deviceId), payload, channelDelivery.reported)
      .catch((err) => this.options.logger.warn('reported.publish_failed', errorFields(err)));
  }
}
