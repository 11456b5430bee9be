import { base64Decode, EdgeloopError, type SampleBatch, sampleBatchPayload, topics } from '@edgeloop/shared';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AgentEventBus } from '../../event-bus.ts';
import { silentLogger } from '../../log.ts';
import { type SampledFrame, SamplesFeature, type SamplesFeatureOptions } from './samples.ts';

const model = { name: 'digits', version: '1', variant: 'fp32' as const, sha256: 'a'.repeat(64) };

/** An MQTT connection stand-in: records publishes, can be offline or refuse. */
class FakeConnection {
  connected = true;
  refuse = false;
  readonly batches: SampleBatch[] = [];
  readonly topics: string[] = [];
  async publish(topic: string, payload: Uint8Array, delivery: { qos: 0 | 1 }): Promise<void> {
    if (this.refuse) throw new EdgeloopError('UNAVAILABLE', 'MQTT connection stopped');
    expect(delivery.qos).toBe(1);
    const decoded = sampleBatchPayload.decode(payload);
    if (!decoded.ok) throw new Error(decoded.error.reason);
    this.topics.push(topic);
    this.batches.push(decoded.value);
  }
}

function feature(overrides: Partial<SamplesFeatureOptions> = {}) {
  const connection = new FakeConnection();
  const bus = new AgentEventBus();
  const registry = new Registry();
  const samples = new SamplesFeature({
    deviceId: 'cam-1',
    settings: { enabled: true, rate: 0, lowConfidenceThreshold: 0.5, maxPerHour: 100_000 },
    connection,
    bus,
    registry,
    windowSeq: () => 7,
    flushMs: 60_000, // flushed by the tests
    queueMaxSamples: 4,
    logger: silentLogger,
    ...overrides,
  });
  samples.start();
  return { samples, connection, bus, registry };
}

const frame = (confidence: number, extra: Partial<SampledFrame> = {}): SampledFrame => ({
  model,
  tensor: Float32Array.from({ length: 12 }, (_, i) => i / 10),
  shape: [1, 3, 2, 2],
  classIndex: 2,
  confidence,
  ...extra,
});

async function counter(registry: Registry, name: string): Promise<Record<string, number>> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const out: Record<string, number> = {};
  for (const v of (metric?.values ?? []) as { labels: Record<string, string>; value: number }[]) {
    out[Object.values(v.labels).join('/')] = v.value;
  }
  return out;
}

describe('SamplesFeature', () => {
  it('sends a kept input as a float32 little-endian tensor with its prediction, window and label', async () => {
    const { samples, connection } = feature();
    samples.offer(frame(0.3, { groundTruth: 1 }));
    samples.offer(frame(0.9)); // confident, rate 0: not kept
    await samples.flush();
    expect(connection.topics).toEqual([topics.samples('cam-1')]);
    const [sample] = connection.batches[0]?.samples ?? [];
    expect(sample).toMatchObject({
      windowSeq: 7,
      model,
      prediction: { classIndex: 2, confidence: 0.3 },
      reason: 'low-confidence',
      label: 1,
      tensor: { shape: [1, 3, 2, 2] },
    });
    const bytes = base64Decode(sample?.tensor.data ?? '');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const values = Array.from({ length: bytes.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
    expect(values).toEqual(Array.from(frame(0).tensor));
    samples.stop();
  });

  it('takes frames from the bus and follows the desired config sampling rate', async () => {
    const { samples, connection, bus } = feature({
      settings: { enabled: true, rate: 0, lowConfidenceThreshold: 0, maxPerHour: 100_000 },
    });
    const emit = () =>
      bus.emit('frame', {
        ...frame(0.9),
        image: new Uint8Array(1),
        preprocessing: { layout: 'NCHW', channels: 3, height: 2, width: 2 } as never,
        label: 'two',
        shape: [1, 3, 2, 2],
      });
    emit();
    bus.emit('desiredConfig', { samplingRate: 1 });
    emit();
    emit();
    bus.emit('desiredConfig', {}); // no override any more: back to the profile's rate 0
    emit();
    await samples.flush();
    expect(connection.batches.flatMap((b) => b.samples.map((s) => s.reason))).toEqual(['random', 'random']);
    expect(samples.stats).toMatchObject({ kept: 2, sent: 2, dropped: 0 });
    samples.stop();
  });

  it('offline: keeps only the newest samples up to its bound, counts the drops, sends the rest on connect', async () => {
    const { samples, connection, bus, registry } = feature();
    connection.connected = false;
    for (let i = 0; i < 10; i++) samples.offer(frame(0.01 * i));
    await samples.flush();
    expect(connection.batches).toEqual([]);
    expect(samples.stats).toEqual({ queued: 4, kept: 10, sent: 0, dropped: 6 });
    expect(await counter(registry, 'edgeloop_agent_samples_dropped_total')).toEqual({
      'low-confidence/queue_full': 6,
    });
    connection.connected = true;
    bus.emit('connected', { sessionPresent: true, reconnects: 1 });
    await samples.drained();
    await samples.flush();
    const sent = connection.batches.flatMap((b) => b.samples.map((s) => s.prediction.confidence));
    expect(sent.map((c) => Math.round(c * 100))).toEqual([6, 7, 8, 9]);
    expect(await counter(registry, 'edgeloop_agent_samples_sent_total')).toEqual({ 'low-confidence': 4 });
    expect(await counter(registry, 'edgeloop_agent_samples_kept_total')).toEqual({ 'low-confidence': 10 });
    samples.stop();
  });

  it('counts rate-limited, too-large and refused samples by cause', async () => {
    const { samples, connection, registry } = feature({
      settings: { enabled: true, rate: 0, lowConfidenceThreshold: 0.5, maxPerHour: 60 }, // burst of 1
      queueMaxSamples: 10,
    });
    samples.offer(frame(0.1));
    samples.offer(frame(0.1));
    const limited = await counter(registry, 'edgeloop_agent_samples_dropped_total');
    expect(limited).toEqual({ 'low-confidence/rate_limited': 1 });

    const big = feature();
    big.samples.offer(frame(0.1, { tensor: new Float32Array(50_000), shape: [1, 50_000] }));
    expect(await counter(big.registry, 'edgeloop_agent_samples_dropped_total')).toEqual({
      'low-confidence/too_large': 1,
    });
    expect(big.samples.stats.queued).toBe(0);
    big.samples.stop();

    connection.refuse = true;
    await samples.flush();
    expect(await counter(registry, 'edgeloop_agent_samples_dropped_total')).toMatchObject({
      'low-confidence/publish_failed': 1,
    });
    expect(samples.stats).toMatchObject({ queued: 0, sent: 0, dropped: 2 });
    samples.stop();
  });

  it('refuses a sample the wire would reject (a class index past 999), counted as invalid', async () => {
    const { samples, registry } = feature();
    samples.offer(frame(0.1, { classIndex: 1500 }));
    expect(samples.stats).toMatchObject({ kept: 0, queued: 0, dropped: 1 });
    expect(await counter(registry, 'edgeloop_agent_samples_dropped_total')).toEqual({
      'low-confidence/invalid': 1,
    });
    samples.stop();
  });

  it('does nothing at all when the profile does not enable sampling', async () => {
    const { samples, connection, bus } = feature({
      settings: { enabled: false, rate: 1, lowConfidenceThreshold: 1, maxPerHour: 100_000 },
    });
    samples.offer(frame(0.1));
    bus.emit('desiredConfig', { samplingRate: 1 });
    samples.offer(frame(0.9));
    await samples.flush();
    expect(connection.batches).toEqual([]);
    expect(samples.stats).toEqual({ queued: 0, kept: 0, sent: 0, dropped: 0 });
    samples.stop();
  });

  it('a non-graceful stop loses the queue, as a crash would', async () => {
    const { samples, connection } = feature();
    connection.connected = false;
    samples.offer(frame(0.1));
    samples.stop({ graceful: false });
    connection.connected = true;
    await samples.flush();
    expect(connection.batches).toEqual([]);
    expect(samples.stats.queued).toBe(0);
  });
});
