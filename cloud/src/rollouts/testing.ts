// Fixtures for rollout tests: device profiles, a fake MQTT bridge that records what it publishes and
// lets a test play the devices' reports, and builders for reported states and telemetry windows.
import { EventEmitter } from 'node:events';
import {
  buildReferenceProfile,
  type DesiredState,
  type DesiredStateInput,
  type DeviceProfile,
  deviceProfileSchema,
  FeatureExtractor,
  type ModelObservation,
  type ModelRef,
  preprocessingSpecSchema,
  type ReferenceProfile,
  type ReportedState,
  type TelemetryWindow,
  type UpdatePhase,
  WindowSketch,
  type WindowSketchWire,
} from '@edgeloop/shared';
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../db/database.ts';
import { devices } from '../db/schema.ts';
import type { DesiredPublishResult, MqttBridgeEvents } from '../mqtt/bridge.ts';
import type { DesiredEntry } from '../mqtt/device-state.ts';

export function testProfile(
  id: string,
  preferredVariant: 'fp32' | 'int8',
  maxModelBytes = 64 * 1024 * 1024,
  chunkSize = 64 * 1024,
): DeviceProfile {
  return deviceProfileSchema.parse({
    profileVersion: 1,
    id,
    name: id,
    arch: 'x64',
    executionProviders: ['cpu'],
    threads: { intraOp: 1, interOp: 1 },
    preferredVariant,
    maxModelBytes,
    memoryBudgetBytes: 64 * 1024 * 1024,
    telemetry: { windowSeconds: 60, queueMaxBytes: 64 * 1024 },
    sampling: { enabled: false, rate: 0, lowConfidenceThreshold: 0, maxPerHour: 0 },
    download: { chunkSize },
  });
}

export function reported(
  phase: UpdatePhase,
  options: { generation?: number; rolloutId?: string | null; active?: ModelRef | null } = {},
): ReportedState {
  return {
    v: 1,
    generation: options.generation ?? 0,
    rolloutId: options.rolloutId ?? null,
    active: options.active ?? null,
    previous: null,
    phase,
    at: 1,
  };
}

/**
 * The bridge's interface without a broker: `publishDesired` stores the desired state on the device
 * row (with the next generation, as the real bridge does) and records it; `report` writes a
 * device's reported state and emits `reported`, as the bridge does for an MQTT message.
 */
export class FakeBridge extends EventEmitter<MqttBridgeEvents> {
  readonly published: { deviceId: string; desired: DesiredState }[] = [];
  /** Sizes of the `publishDesiredMany` calls, in order. */
  readonly batches: number[] = [];
  /** Devices whose publish fails (the broker is down for them). */
  readonly failing = new Set<string>();

  constructor(private readonly db: Db) {
    super();
  }

  async publishDesired(
    deviceId: string,
    desired: Omit<DesiredStateInput, 'v' | 'generation' | 'issuedAt'>,
  ): Promise<DesiredState> {
    if (this.failing.has(deviceId)) throw new Error(`broker unreachable for ${deviceId}`);
    const [row] = await this.db
      .update(devices)
      .set({ desiredGeneration: sql`${devices.desiredGeneration} + 1` })
      .where(eq(devices.id, deviceId))
      .returning({ generation: devices.desiredGeneration });
    if (!row) throw new Error(`device ${deviceId} does not exist`);
    const state = {
      v: 1,
      generation: row.generation,
      issuedAt: Date.now(),
      config: {},
      ...desired,
    } as DesiredState;
    await this.db.update(devices).set({ desired: state }).where(eq(devices.id, deviceId));
    this.published.push({ deviceId, desired: state });
    return state;
  }

  /** As the real bridge: each device on its own, results in input order. */
  async publishDesiredMany(entries: readonly DesiredEntry[]): Promise<DesiredPublishResult[]> {
    this.batches.push(entries.length);
    const results: DesiredPublishResult[] = [];
    for (const { deviceId, desired } of entries) {
      try {
        results.push({ deviceId, ok: true, state: await this.publishDesired(deviceId, desired) });
      } catch (err) {
        results.push({ deviceId, ok: false, error: err instanceof Error ? err : new Error(String(err)) });
      }
    }
    return results;
  }

  lastDesired(deviceId: string): DesiredState | undefined {
    return this.published.filter((p) => p.deviceId === deviceId).at(-1)?.desired;
  }

  async report(deviceId: string, state: ReportedState): Promise<void> {
    await this.db.update(devices).set({ reported: state }).where(eq(devices.id, deviceId));
    this.emit('reported', deviceId, state);
  }

  /** The device answers its last desired state with `phase` (generation and rollout id filled in). */
  async answer(deviceId: string, phase: UpdatePhase, active: ModelRef | null = null): Promise<void> {
    const desired = this.lastDesired(deviceId);
    await this.report(
      deviceId,
      reported(phase, {
        generation: desired?.generation ?? 0,
        rolloutId: desired?.rolloutId ?? null,
        active,
      }),
    );
  }

  telemetry(window: TelemetryWindow): void {
    this.emit('telemetry', window.deviceId, window);
  }
}

export function telemetryWindow(
  deviceId: string,
  model: ModelRef,
  at: number,
  values: {
    inferences?: number;
    errors?: number;
    p95?: number;
    confidence?: number;
    classes?: number[];
    sketches?: WindowSketchWire;
    shadow?: TelemetryWindow['shadow'];
  } = {},
): TelemetryWindow {
  const p95 = values.p95 ?? 5;
  const inferences = values.inferences ?? 100;
  return {
    v: 1,
    deviceId,
    seq: at,
    windowStart: at - 60_000,
    windowEnd: at,
    model,
    inferences,
    errors: values.errors ?? 0,
    latencyMs: { count: inferences, min: 1, max: p95 * 2, mean: p95 / 2, p50: p95 / 2, p95, p99: p95 * 1.5 },
    classCounts: values.classes ?? [50, 50],
    meanConfidence: values.confidence ?? 0.9,
    droppedWindows: 0,
    ...(values.sketches ? { sketches: values.sketches } : {}),
    ...(values.shadow ? { shadow: values.shadow } : {}),
  };
}

/**
 * A tiny camera and model for drift tests: 4×4 grey images of uniform noise scaled by `gain` (a
 * darker scene below 1), a 2-class "model" that calls an image bright above mean 0.5.
 */
export class DriftWorld {
  static readonly preprocessing = preprocessingSpecSchema.parse({
    layout: 'NCHW',
    channels: 1,
    height: 4,
    width: 4,
  });
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0 || 1;
  }

  #next(): number {
    this.#state = (Math.imul(this.#state, 1664525) + 1013904223) >>> 0;
    return this.#state / 2 ** 32;
  }

  observation(gain = 1): ModelObservation {
    const input = Float32Array.from({ length: 16 }, () => this.#next() * gain);
    const mean = input.reduce((a, b) => a + b, 0) / input.length;
    const bright = Math.min(0.99, Math.max(0.01, mean * 2 - 0.5));
    return { input, probabilities: Float32Array.from([1 - bright, bright]) };
  }

  profile(samples = 400): ReferenceProfile {
    const observations = Array.from({ length: samples }, () => this.observation());
    return buildReferenceProfile({
      preprocessing: DriftWorld.preprocessing,
      classes: 2,
      projection: null,
      observations,
    });
  }

  /** One window's sketches, binned against `profile` as an agent holding it would. */
  sketches(profile: ReferenceProfile, n: number, gain = 1): WindowSketchWire {
    const extractor = new FeatureExtractor({ preprocessing: DriftWorld.preprocessing, classes: 2 });
    const sketch = new WindowSketch({ spec: profile.spec });
    for (let i = 0; i < n; i++) sketch.add(extractor.observe(this.observation(gain)));
    return sketch.toWire();
  }
}
