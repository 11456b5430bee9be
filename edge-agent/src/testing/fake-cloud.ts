// A stand-in for the cloud's MQTT side in agent tests, built only from @edgeloop/shared and mqtt.js
// (never cloud code): it publishes desired states retained, answers artifact requests with chunk
// frames (optionally corrupting or dropping some), and records what devices report.
import {
  artifactChunkDelivery,
  artifactRequestPayload,
  channelDelivery,
  channelPayloads,
  type DesiredStateInput,
  type DeviceStatus,
  desiredStatePayload,
  encodeArtifactChunk,
  type ReportedState,
  type SampleBatch,
  type TelemetryWindow,
  topicFilters,
  topics,
  tryParseTopic,
} from '@edgeloop/shared';
import mqtt, { type MqttClient } from 'mqtt';
import { sha256Hex } from './fixtures.ts';

export interface ChunkFaults {
  /** Return true to flip a payload byte of this delivery of chunk `index` (`delivery` counts from 0). */
  corrupt?: (index: number, delivery: number) => boolean;
  /** Return true to not answer this delivery at all. */
  drop?: (index: number, delivery: number) => boolean;
}

export class FakeCloud {
  readonly artifacts = new Map<string, Uint8Array>();
  readonly requests: { deviceId: string; sha256: string; ranges: [number, number][] }[] = [];
  readonly reported = new Map<string, ReportedState[]>();
  readonly telemetry = new Map<string, TelemetryWindow[]>();
  readonly status = new Map<string, DeviceStatus[]>();
  readonly samples = new Map<string, SampleBatch[]>();
  /** Sample batches that failed the shared schema (an agent bug). */
  readonly badSamples: string[] = [];
  readonly chunksSent = new Map<number, number>();
  faults: ChunkFaults = {};
  /** While true, artifact requests are recorded but not answered. */
  silent = false;
  readonly #desired = new Map<string, Uint8Array>();

  private constructor(readonly client: MqttClient) {}

  static async connect(url: string): Promise<FakeCloud> {
    const client = mqtt.connect(url, {
      clientId: `fake-cloud-${Math.random().toString(36).slice(2)}`,
      // A persistent session, as a real ingest has: windows published while the cloud reconnects wait.
      clean: false,
      reconnectPeriod: 100,
      protocolVersion: 4,
    });
    const cloud = new FakeCloud(client);
    client.on('error', () => undefined);
    client.on('message', (topic, payload) => cloud.#onMessage(topic, payload));
    client.on('connect', () => {
      void cloud.#onConnect();
    });
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    await client.subscribeAsync(
      (['artifact/req', 'reported', 'telemetry', 'status', 'samples'] as const).map((c) =>
        topicFilters.allDevices(c),
      ),
      { qos: 1 },
    );
    return cloud;
  }

  /** After a broker restart: subscribe again and re-publish the retained desired states it lost. */
  async #onConnect(): Promise<void> {
    await this.client.subscribeAsync(
      (['artifact/req', 'reported', 'telemetry', 'status', 'samples'] as const).map((c) =>
        topicFilters.allDevices(c),
      ),
      { qos: 1 },
    );
    for (const [deviceId, payload] of this.#desired) {
      await this.client.publishAsync(topics.desired(deviceId), Buffer.from(payload), channelDelivery.desired);
    }
  }

  addArtifact(bytes: Uint8Array): string {
    const sha256 = sha256Hex(bytes);
    this.artifacts.set(sha256, bytes);
    return sha256;
  }

  /** Publishes a desired state retained; a string or bytes go out as they are (malformed input tests). */
  async publishDesired(deviceId: string, desired: DesiredStateInput | string | Uint8Array): Promise<void> {
    const payload =
      typeof desired === 'string'
        ? new TextEncoder().encode(desired)
        : desired instanceof Uint8Array
          ? desired
          : desiredStatePayload.encode(desired);
    this.#desired.set(deviceId, payload);
    await this.client.publishAsync(topics.desired(deviceId), Buffer.from(payload), channelDelivery.desired);
  }

  #onMessage(topic: string, payload: Buffer): void {
    const parsed = tryParseTopic(topic);
    if (parsed?.kind !== 'device') return;
    const push = <T>(map: Map<string, T[]>, value: T) => {
      map.set(parsed.deviceId, [...(map.get(parsed.deviceId) ?? []), value]);
    };
    if (parsed.channel === 'artifact/req') {
      const request = artifactRequestPayload.decode(payload);
      if (!request.ok) return;
      this.requests.push({
        deviceId: parsed.deviceId,
        sha256: request.value.sha256,
        ranges: request.value.ranges as [number, number][],
      });
      if (!this.silent)
        void this.#answer(request.value.sha256, request.value.chunkSize, request.value.ranges);
      return;
    }
    if (payload.length === 0) return;
    if (parsed.channel === 'reported') {
      const decoded = channelPayloads.reported.decode(payload);
      if (decoded.ok) push(this.reported, decoded.value);
    } else if (parsed.channel === 'telemetry') {
      const decoded = channelPayloads.telemetry.decode(payload);
      if (decoded.ok) push(this.telemetry, decoded.value);
    } else if (parsed.channel === 'status') {
      const decoded = channelPayloads.status.decode(payload);
      if (decoded.ok) push(this.status, decoded.value);
    } else if (parsed.channel === 'samples') {
      const decoded = channelPayloads.samples.decode(payload);
      if (decoded.ok) push(this.samples, decoded.value);
      else this.badSamples.push(decoded.error.reason);
    }
  }

  async #answer(
    sha256: string,
    chunkSize: number,
    ranges: readonly (readonly [number, number])[],
  ): Promise<void> {
    const bytes = this.artifacts.get(sha256);
    if (!bytes) return;
    const total = Math.ceil(bytes.length / chunkSize);
    for (const [first, last] of ranges) {
      for (let index = first; index <= Math.min(last, total - 1); index++) {
        const delivery = this.chunksSent.get(index) ?? 0;
        this.chunksSent.set(index, delivery + 1);
        if (this.faults.drop?.(index, delivery)) continue;
        const frame = encodeArtifactChunk({
          sha256,
          index,
          total,
          chunkSize,
          payload: bytes.subarray(index * chunkSize, (index + 1) * chunkSize),
        });
        if (this.faults.corrupt?.(index, delivery)) {
          const last = frame.length - 1;
          frame[last] = (frame[last] ?? 0) ^ 0xff;
        }
        await this.client
          .publishAsync(topics.artifactChunk(sha256, index), Buffer.from(frame), artifactChunkDelivery)
          .catch(() => undefined);
      }
    }
  }

  lastReported(deviceId: string): ReportedState | undefined {
    return this.reported.get(deviceId)?.at(-1);
  }

  phases(deviceId: string): string[] {
    return (this.reported.get(deviceId) ?? []).map((r) => r.phase.state);
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/** Polls `probe` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
