// The cloud side of model delivery over MQTT. Devices ask on their own `artifact/req` topic for chunk
// ranges of an artifact; the server answers on `el/v1/art/{sha256}/{chunk}`, a topic every device
// downloading that artifact subscribes to, so the broker fans each chunk out and the cloud publishes
// it at most once per republish interval however many devices want it (see chunk-schedule.ts).
import {
  artifactChunkDelivery,
  artifactRequestPayload,
  EdgeloopError,
  encodeArtifactChunk,
  topicFilters,
  topics,
  tryParseTopic,
} from '@edgeloop/shared';
import type { IPublishPacket } from 'mqtt';
import { Registry } from 'prom-client';
import type { Db } from '../db/index.ts';
import { type DeviceRateLimit, DeviceRateLimiter } from '../limits/device-rate-limiter.ts';
import type { CloudMqttConnection } from '../mqtt/connection.ts';
import { DeadLetterSink } from '../mqtt/dead-letters.ts';
import { type Logger, sharedCounter, silentLogger } from '../mqtt/observability.ts';
import type { RouteRegistration } from '../mqtt/router.ts';
import type { ArtifactStore } from '../registry/artifact-store.ts';
import { ChunkCache } from './chunk-cache.ts';
import { chunkByteRange, chunkCount, selectChunks } from './chunk-geometry.ts';
import { ChunkSchedule } from './chunk-schedule.ts';
import { type ArtifactServerStats, DeliveryMetrics, type RequestOutcome } from './delivery-metrics.ts';
import { type EntitlementCheck, registeredArtifacts } from './entitlement.ts';
import { PublishQueue } from './publish-queue.ts';

/** The chunk size device profiles default to (`download.chunkSize`). */
export const DEFAULT_CHUNK_SIZE = 64 * 1024;

export interface ArtifactServerOptions {
  connection: CloudMqttConnection;
  /**
   * How chunks go out; default: `connection.publish`. The cloud passes its embedded broker's
   * in-process publish (see `EmbeddedBroker.publish`).
   */
  publishChunk?: CloudMqttConnection['publish'];
  store: Pick<ArtifactStore, 'stat' | 'readRange'>;
  /** Needed for the default entitlement (registered artifacts) and to keep malformed requests as dead letters. */
  db?: Db;
  /** Default: `registeredArtifacts(db)`. Without `db`, this must be given. */
  isEntitled?: EntitlementCheck;
  /**
   * Chunk sizes the cloud announces in desired states. The chunk topic does not name the chunk size,
   * so frames of two geometries of one artifact would reach every downloader of both; other sizes
   * are refused. Default `[DEFAULT_CHUNK_SIZE]`.
   */
  chunkSizes?: readonly number[];
  /**
   * A chunk is published at most once per this long: a request that needs another publish sooner is
   * held back until then, and every request in between shares that one publish. The most a device
   * waits for a chunk beyond the queue. Default 2000 ms.
   */
  republishIntervalMs?: number;
  /** Chunk publishes waiting for a slot (default 2048) and awaiting their PUBACK (default 8). */
  maxQueuedChunks?: number;
  maxInFlight?: number;
  /** Budget for recently published frames (default 32 MiB). */
  cacheBytes?: number;
  /** Per device; default burst 20, 5 requests/s. */
  rateLimit?: DeviceRateLimit;
  /** MQTT 5 shared-subscription group, so several cloud processes split the requests. */
  shareGroup?: string;
  deadLetters?: { rawLimit?: number; perSecond?: number };
  registry?: Registry;
  logger?: Logger;
  now?: () => number;
}

export class DeliveryError extends EdgeloopError {}

interface ChunkRef {
  sha256: string;
  chunkSize: number;
  index: number;
  total: number;
  size: number;
}

const REQUEST_FILTER = topicFilters.allDevices('artifact/req');

/**
 * Answers devices' chunk requests on the shared artifact topics, at most one publish per chunk per
 * republish interval.
 *
 * @example
 * const server = new ArtifactServer({ connection, store, db, chunkSizes: [64 * 1024] });
 * await server.start(); // subscribes to el/v1/dev/+/artifact/req
 * server.stats().bytesPublished; // what the fleet's downloads cost the cloud
 * await server.stop();
 */
export class ArtifactServer {
  readonly #connection: CloudMqttConnection;
  readonly #publish: CloudMqttConnection['publish'];
  readonly #store: Pick<ArtifactStore, 'stat' | 'readRange'>;
  readonly #isEntitled: EntitlementCheck;
  readonly #chunkSizes: ReadonlySet<number>;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #metrics: DeliveryMetrics;
  readonly #deadLetters: DeadLetterSink | undefined;
  readonly #schedule: ChunkSchedule;
  readonly #queue: PublishQueue;
  readonly #cache: ChunkCache;
  readonly #rateLimit: DeviceRateLimiter;
  readonly #filter: string;
  /** Artifact sizes by sha256: content-addressed, so a size never changes once known. */
  readonly #sizes = new Map<string, number>();
  /** Publishes held back by the republish interval, by chunk key; fired into the queue. */
  readonly #held = new Map<string, { timer: NodeJS.Timeout; fired: () => void }>();
  #route: RouteRegistration | undefined;

  constructor(options: ArtifactServerOptions) {
    this.#connection = options.connection;
    this.#publish =
      options.publishChunk ??
      ((topic, payload, delivery) => this.#connection.publish(topic, payload, delivery));
    this.#store = options.store;
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
    const isEntitled = options.isEntitled ?? (options.db && registeredArtifacts(options.db));
    if (isEntitled === undefined) {
      throw new DeliveryError(
        'VALIDATION_FAILED',
        'ArtifactServer needs isEntitled or db (for registered artifacts)',
      );
    }
    this.#isEntitled = isEntitled;
    const chunkSizes = options.chunkSizes ?? [DEFAULT_CHUNK_SIZE];
    const badSize = chunkSizes.find((s) => !Number.isInteger(s) || s < 1024 || s > 1024 * 1024);
    if (chunkSizes.length === 0 || badSize !== undefined) {
      throw new DeliveryError(
        'VALIDATION_FAILED',
        `chunkSizes must be integers in 1024..1048576, got ${badSize}`,
      );
    }
    this.#chunkSizes = new Set(chunkSizes);
    const registry = options.registry ?? new Registry();
    this.#metrics = new DeliveryMetrics(registry);
    if (options.db) {
      this.#deadLetters = new DeadLetterSink(
        options.db,
        sharedCounter(
          registry,
          'edgeloop_mqtt_dead_letters_total',
          'Device messages refused by the cloud bridge',
          ['channel', 'code', 'stored'],
        ),
        this.#logger,
        {
          rawLimit: options.deadLetters?.rawLimit ?? 2048,
          perSecond: options.deadLetters?.perSecond ?? 20,
          now: this.#now,
        },
      );
    }
    this.#schedule = new ChunkSchedule(options.republishIntervalMs ?? 2000);
    this.#queue = new PublishQueue(
      { maxQueued: options.maxQueuedChunks ?? 2048, maxInFlight: options.maxInFlight ?? 8 },
      (err) =>
        this.#logger.error({ event: 'delivery.job_failed', err: String(err) }, 'chunk publish job threw'),
    );
    this.#cache = new ChunkCache(options.cacheBytes ?? 32 * 1024 * 1024);
    this.#rateLimit = new DeviceRateLimiter(options.rateLimit ?? { burst: 20, perSecond: 5 }, () =>
      this.#now(),
    );
    this.#filter = this.#connection.supportsSharedSubscriptions
      ? topicFilters.shared(options.shareGroup ?? 'artifacts', 'artifact/req')
      : REQUEST_FILTER;
  }

  /** Registers with the connection's message router (requests are acknowledged once admitted) and subscribes. */
  async start(): Promise<void> {
    if (this.#route) return;
    // Acknowledging only once a request is admitted lets the broker pace requests to the speed of
    // validation and lookups. Publishing is never awaited here: its PUBACKs arrive on this same
    // connection.
    this.#route = this.#connection.messages.consume({
      filters: [this.#filter],
      handle: (packet) => this.#admit(packet),
      onError: (packet, err) =>
        this.#logger.error(
          { event: 'delivery.request_failed', topic: packet.topic, err: String(err) },
          'artifact request could not be processed',
        ),
    });
    const granted = await this.#connection.subscribe([this.#filter], 1);
    if (granted.some((g) => g.qos === 128)) {
      await this.stop();
      throw new DeliveryError('FORBIDDEN', `broker refused the subscription ${this.#filter}`);
    }
  }

  /** Unsubscribes, drops chunks not yet published and waits for those in flight. */
  async stop(): Promise<void> {
    const client = this.#connection.client;
    if (this.#route === undefined) return;
    this.#route.remove();
    this.#route = undefined;
    if (client.connected) await client.unsubscribeAsync(this.#filter).catch(() => undefined);
    for (const held of this.#held.values()) {
      clearTimeout(held.timer);
      held.fired();
    }
    this.#held.clear();
    this.#queue.clear();
    await this.#queue.idle();
    this.#schedule.reset();
  }

  /** Resolves once every queued or held chunk has been published (or failed). For tests and shutdown. */
  async drained(): Promise<void> {
    for (;;) {
      await this.#queue.idle();
      if (this.#held.size === 0) return;
      await Promise.all(
        [...this.#held.values()].map(
          (held) =>
            new Promise<void>((resolve) => {
              const fired = held.fired;
              held.fired = () => {
                fired();
                resolve();
              };
            }),
        ),
      );
    }
  }

  stats(): ArtifactServerStats {
    const { counts } = this.#metrics;
    return {
      ...counts,
      requests: { ...counts.requests },
      queued: this.#queue.queued,
      inFlight: this.#queue.inFlight,
      cache: {
        frames: this.#cache.size,
        bytes: this.#cache.bytes,
        hits: this.#cache.hits,
        misses: this.#cache.misses,
      },
    };
  }

  async #admit(packet: IPublishPacket): Promise<void> {
    const raw = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const parsed = tryParseTopic(packet.topic);
    if (parsed?.kind !== 'device') {
      return this.#rejectMalformed(packet.topic, null, 'TOPIC_INVALID', 'not a valid device topic', raw);
    }
    const { deviceId } = parsed;
    // Before any parsing, disk or database work: a flood costs one map lookup per message.
    if (!this.#rateLimit.take(deviceId)) return this.#metrics.request('rate_limited');

    const decoded = artifactRequestPayload.decode(raw);
    if (!decoded.ok) {
      return this.#rejectMalformed(packet.topic, deviceId, decoded.error.code, decoded.error.reason, raw);
    }
    const { sha256, chunkSize, ranges } = decoded.value;
    const refuse = (outcome: RequestOutcome, reason: string) => {
      this.#metrics.request(outcome);
      this.#logger.warn({ event: 'delivery.request_refused', deviceId, sha256, chunkSize, outcome }, reason);
    };
    if (!this.#chunkSizes.has(chunkSize)) {
      return refuse(
        'bad_chunk_size',
        `chunk size ${chunkSize} is not one the cloud serves (${[...this.#chunkSizes]})`,
      );
    }
    const size = await this.#artifactSize(sha256);
    if (size === undefined) return refuse('unknown_artifact', `artifact ${sha256} is not in the store`);
    if (!(await this.#isEntitled(deviceId, sha256))) {
      return refuse('not_entitled', `device ${deviceId} may not download ${sha256}`);
    }
    const total = chunkCount(size, chunkSize);
    const selection = selectChunks(ranges, total);
    if (!selection.ok) return refuse('out_of_range', selection.reason);

    if (this.#route === undefined) return; // stopped while we looked the artifact up
    let coalesced = 0;
    let shed = 0;
    const now = this.#now();
    for (const index of selection.indices) {
      const key = `${sha256}/${chunkSize}/${index}`;
      const claim = this.#schedule.claim(key, now);
      if (claim.kind === 'coalesced') {
        coalesced++;
        continue;
      }
      const chunk = { sha256, chunkSize, index, total, size };
      if (claim.kind === 'defer') {
        this.#hold(key, chunk, claim.delayMs);
        continue;
      }
      if (!this.#enqueue(key, chunk)) shed++;
    }
    this.#metrics.coalesced(coalesced);
    this.#metrics.shed(shed);
    if (shed > 0) {
      this.#logger.warn(
        { event: 'delivery.overloaded', deviceId, sha256, shed, queued: this.#queue.queued },
        'outgoing chunk queue full; the device will ask again',
      );
    }
    this.#metrics.request(shed > 0 ? 'overloaded' : 'served');
  }

  /** Offers the chunk's publish to the queue; false (and the claim released) when the queue is full. */
  #enqueue(key: string, chunk: ChunkRef): boolean {
    const queued = this.#queue.offer(() => this.#publishChunk(key, chunk));
    if (!queued) this.#schedule.failed(key);
    return queued;
  }

  /** Queues the chunk's publish after `delayMs`; requests until then join it (the schedule says so). */
  #hold(key: string, chunk: ChunkRef, delayMs: number): void {
    const held = {
      fired: () => {},
      timer: setTimeout(() => {
        this.#held.delete(key);
        if (this.#route !== undefined && !this.#enqueue(key, chunk)) {
          this.#metrics.shed(1);
          this.#logger.warn(
            {
              event: 'delivery.overloaded',
              sha256: chunk.sha256,
              index: chunk.index,
              queued: this.#queue.queued,
            },
            'outgoing chunk queue full for a held-back chunk; devices will ask again',
          );
        }
        held.fired();
      }, delayMs),
    };
    this.#held.set(key, held);
  }

  async #publishChunk(key: string, chunk: ChunkRef): Promise<void> {
    const { sha256, chunkSize, index, total, size } = chunk;
    try {
      let frame = this.#cache.get(key);
      if (frame === undefined) {
        const payload = await this.#store.readRange(sha256, chunkByteRange(size, chunkSize, index));
        frame = encodeArtifactChunk({ sha256, index, total, chunkSize, payload });
        this.#cache.set(key, frame);
      }
      // Requests until here joined this publish; from here until its PUBACK they still do.
      this.#schedule.started(key, this.#now());
      await this.#publish(topics.artifactChunk(sha256, index), frame, artifactChunkDelivery);
      this.#schedule.sent(key);
      this.#metrics.published(frame.byteLength);
    } catch (err) {
      this.#schedule.failed(key);
      this.#metrics.publishFailed();
      this.#logger.error(
        { event: 'delivery.publish_failed', sha256, index, err: String(err) },
        'could not publish an artifact chunk',
      );
    }
  }

  async #artifactSize(sha256: string): Promise<number | undefined> {
    const known = this.#sizes.get(sha256);
    if (known !== undefined) return known;
    const stored = await this.#store.stat(sha256);
    if (stored === undefined) return undefined; // not cached: it may be stored later
    if (this.#sizes.size >= 4096) this.#sizes.clear();
    this.#sizes.set(sha256, stored.size);
    return stored.size;
  }

  async #rejectMalformed(
    topic: string,
    deviceId: string | null,
    code: string,
    reason: string,
    raw: Uint8Array,
  ): Promise<void> {
    this.#metrics.request('malformed');
    if (this.#deadLetters) {
      await this.#deadLetters.record({ topic, deviceId, channel: 'artifact/req', code, reason, raw });
    } else {
      this.#logger.warn(
        { event: 'delivery.request_malformed', topic, deviceId, code, bytes: raw.byteLength },
        reason,
      );
    }
  }
}
