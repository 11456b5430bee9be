// The typed event bus the agent's features talk through (zigbee2mqtt's eventBus habit): features never
// hold references to each other just to be told that something happened. Each listener is registered
// under an owner, so a feature's stop() removes exactly its own listeners.
import type {
  DesiredState,
  DeviceConfig,
  FeatureSample,
  ModelRef,
  PreprocessingSpec,
  SketchSpec,
} from '@edgeloop/shared';
import type { ImageInput } from './preprocess.ts';

export interface AgentEvents {
  /** MQTT session (re)established and subscriptions in place. */
  connected: { sessionPresent: boolean; reconnects: number };
  disconnected: { reason: string };
  /** One /infer request finished (successfully or not). */
  inference:
    | {
        ok: true;
        model: ModelRef;
        latencyMs: number;
        classIndex: number;
        confidence: number;
        /** Drift features, when the model's manifest carries a sketch spec. */
        sketch?: { spec: SketchSpec; sample: FeatureSample };
      }
    | { ok: false; model: ModelRef | null; code: string };
  /** The serving model changed (activation, rollback, boot). */
  modelServing: {
    model: ModelRef | null;
    previous: ModelRef | null;
    reason: 'boot' | 'activated' | 'rolled_back';
  };
  /** A newly accepted desired state carried this runtime configuration. */
  desiredConfig: DeviceConfig;
  /** The active model survived long enough to be trusted (boot counter cleared). */
  modelConfirmed: { model: ModelRef };
  /** A desired state passed validation and was saved (before the update acts on it). */
  desiredState: DesiredState;
  /**
   * One successful inference, for features that look at the frame itself (shadow mode). Emitted
   * synchronously on the request path: listeners must return at once, and must copy `tensor` or
   * `image` to keep them past the call.
   */
  frame: {
    model: ModelRef;
    image: ImageInput;
    tensor: Float32Array;
    preprocessing: PreprocessingSpec;
    label: string;
    /** Top-1 class and its confidence (retraining samples). */
    classIndex: number;
    confidence: number;
    /** The concrete input shape `tensor` ran with (batch of one). */
    shape: number[];
    /** Ground truth, when the caller knows it (the simulator's camera, `/infer?label=`). */
    groundTruth?: number;
  };
  /** The shadow model ran on one frame (shadow mode): agreed with the active model's top class, or failed. */
  shadowInference: { model: ModelRef } & ({ ok: true; agreed: boolean; latencyMs: number } | { ok: false });
}

export type AgentEventName = keyof AgentEvents;
type Listener<E extends AgentEventName> = (event: AgentEvents[E]) => void;

export class AgentEventBus {
  readonly #listeners = new Map<AgentEventName, { owner: object; fn: Listener<AgentEventName> }[]>();
  /** Called when a listener throws: one bad listener must not stop the others or crash the agent. */
  onListenerError: (err: unknown, event: AgentEventName) => void = () => undefined;

  on<E extends AgentEventName>(event: E, owner: object, fn: Listener<E>): void {
    const list = this.#listeners.get(event) ?? [];
    list.push({ owner, fn: fn as Listener<AgentEventName> });
    this.#listeners.set(event, list);
  }

  emit<E extends AgentEventName>(event: E, payload: AgentEvents[E]): void {
    for (const { fn } of [...(this.#listeners.get(event) ?? [])]) {
      try {
        fn(payload);
      } catch (err) {
        this.onListenerError(err, event);
      }
    }
  }

  removeListeners(owner: object): void {
    for (const [event, list] of this.#listeners) {
      this.#listeners.set(
        event,
        list.filter((l) => l.owner !== owner),
      );
    }
  }
}
