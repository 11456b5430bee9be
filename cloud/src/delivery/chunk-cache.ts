/**
 * Recently published chunk frames, least recently used evicted first, within a byte budget. Devices
 * downloading one artifact ask for its chunks again and again (re-requests, late joiners), so the
 * second publish of a chunk should not cost another disk read. Frames are immutable (the artifact is
 * content-addressed), so a cached frame never goes stale.
 */
export class ChunkCache {
  // A Map iterates in insertion order: re-inserting on every hit makes the first key the LRU one.
  readonly #frames = new Map<string, Uint8Array>();
  #bytes = 0;
  hits = 0;
  misses = 0;

  constructor(readonly budgetBytes: number) {}

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#frames.size;
  }

  get(key: string): Uint8Array | undefined {
    const frame = this.#frames.get(key);
    if (frame === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.#frames.delete(key);
    this.#frames.set(key, frame);
    return frame;
  }

  /** Keeps `frame` unless it alone exceeds the budget; evicts the oldest frames to make room. */
  set(key: string, frame: Uint8Array): void {
    const previous = this.#frames.get(key);
    if (previous !== undefined) {
      this.#frames.delete(key);
      this.#bytes -= previous.byteLength;
    }
    if (frame.byteLength > this.budgetBytes) return;
    this.#frames.set(key, frame);
    this.#bytes += frame.byteLength;
    for (const [oldest, old] of this.#frames) {
      if (this.#bytes <= this.budgetBytes) break;
      this.#frames.delete(oldest);
      this.#bytes -= old.byteLength;
    }
  }
}
