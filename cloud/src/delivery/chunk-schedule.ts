/**
 * Decides, per chunk, whether a request needs a publish of its own. Chunks go out on a topic every
 * downloading device shares, so one publish answers every device that asked while the chunk was
 * queued or in flight, and every device that asks within `windowMs` after it went out: a device
 * subscribes to the chunk topic before it asks, so such a request almost always raced the publish it
 * already received. A device that really missed the chunk asks again after its quiet period (seconds,
 * longer than the window) and then gets a fresh publish, so a chunk goes out at most once per window.
 *
 * Keys name a chunk of one geometry: `${sha256}/${chunkSize}/${index}`.
 */
export class ChunkSchedule {
  /** Queued or being published. */
  readonly #pending = new Set<string>();
  /** Last completed publish per chunk, oldest first (re-inserted on each send), pruned past the window. */
  readonly #sentAt = new Map<string, number>();

  constructor(readonly windowMs: number) {}

  /** `send` claims the chunk: the caller must follow with `sent` or `failed`. */
  claim(key: string, now: number): 'send' | 'coalesced' {
    this.#prune(now);
    if (this.#pending.has(key) || this.#sentAt.has(key)) return 'coalesced';
    this.#pending.add(key);
    return 'send';
  }

  sent(key: string, now: number): void {
    this.#pending.delete(key);
    this.#sentAt.delete(key);
    this.#sentAt.set(key, now);
  }

  /** Nothing went out (queue full, read or publish failed): the next request tries again. */
  failed(key: string): void {
    this.#pending.delete(key);
  }

  get pending(): number {
    return this.#pending.size;
  }

  reset(): void {
    this.#pending.clear();
    this.#sentAt.clear();
  }

  #prune(now: number): void {
    for (const [key, at] of this.#sentAt) {
      if (now - at < this.windowMs) break;
      this.#sentAt.delete(key);
    }
  }
}
