/**
 * Decides, per chunk, when a request needs a publish of its own. Chunks go out on a topic every
 * downloading device shares, and a device subscribes to it before it asks. So:
 *
 * - A request that arrives while the chunk's publish is queued, or handed to the broker and not yet
 *   acknowledged, joins it (`coalesced`). Queued: the publish starts after the request. In flight: the
 *   broker forwards us the request and acknowledges our publish over one connection, in the order it
 *   handled them, and routes a publish no earlier than in the step that acknowledges it, so a request
 *   seen before the PUBACK was handled, with the device's subscription in place, before the chunk was
 *   routed. (If the PUBACK is processed while the request is still being looked at, the request is
 *   answered again: the safe side.)
 * - A request after the PUBACK may come from a device that subscribed after the chunk was routed, so
 *   it gets another publish: at once if the last one started at least `intervalMs` ago, else held back
 *   until `intervalMs` after it (`defer`), and every request until then joins the held publish.
 *
 * So every device that asks gets a publish it can receive, without waiting for a quiet-period
 * re-request, and a chunk goes out at most once per `intervalMs` however the fleet's requests are
 * spread in time. (The previous rule, "a request within 250 ms after a publish raced it", left devices
 * that had subscribed just after the publish waiting for their re-request, and answered every
 * straggler later than that with a publish of its own: a rollout to 250 devices sent each chunk 18–28
 * times.)
 *
 * Keys name a chunk of one geometry: `${sha256}/${chunkSize}/${index}`.
 */
export type ChunkClaim =
  | { kind: 'send' }
  | { kind: 'coalesced' }
  /** Publish after `delayMs`. */
  | { kind: 'defer'; delayMs: number };

export class ChunkSchedule {
  /** Claimed and not started: queued for a publish, or held back. */
  readonly #pending = new Set<string>();
  /** Handed to the broker, PUBACK not yet seen. */
  readonly #inFlight = new Set<string>();
  /** When each chunk's last publish started, oldest first (re-inserted on each start), pruned past the interval. */
  readonly #startedAt = new Map<string, number>();

  constructor(readonly intervalMs: number) {}

  /**
   * `send` and `defer` claim the chunk: the caller must follow with `started` and then `sent` or
   * `failed`, or with `failed` alone if the publish never starts.
   */
  claim(key: string, now: number): ChunkClaim {
    this.#prune(now);
    if (this.#pending.has(key) || this.#inFlight.has(key)) return { kind: 'coalesced' };
    this.#pending.add(key);
    const last = this.#startedAt.get(key);
    if (last !== undefined && now - last < this.intervalMs) {
      return { kind: 'defer', delayMs: last + this.intervalMs - now };
    }
    return { kind: 'send' };
  }

  /** The publish is being handed to the broker. */
  started(key: string, now: number): void {
    this.#pending.delete(key);
    this.#inFlight.add(key);
    this.#startedAt.delete(key);
    this.#startedAt.set(key, now);
  }

  /** The broker acknowledged the publish: requests from now on need the next one. */
  sent(key: string): void {
    this.#inFlight.delete(key);
  }

  /**
   * Nothing went out (queue full, read or publish failed): the next request is answered at once,
   * since nobody may have received the failed publish.
   */
  failed(key: string): void {
    this.#pending.delete(key);
    this.#inFlight.delete(key);
    this.#startedAt.delete(key);
  }

  /** Chunks claimed and not yet started. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Chunks handed to the broker and not yet acknowledged. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  reset(): void {
    this.#pending.clear();
    this.#inFlight.clear();
    this.#startedAt.clear();
  }

  #prune(now: number): void {
    for (const [key, at] of this.#startedAt) {
      if (now - at < this.intervalMs) break;
      this.#startedAt.delete(key);
    }
  }
}
