// The samples waiting to be sent, in memory only: samples are best effort (telemetry is what must not
// be lost), so the queue is small and bounded by count and bytes; when full the oldest sample goes
// first. Batches are cut to the wire's limits: at most 32 samples and `sampleBatchPayload.maxBytes`
// encoded (halving the batch until it fits: the encoder says how big a batch really is).
import { type Sample, sampleBatchPayload } from '@edgeloop/shared';

export const MAX_BATCH_SAMPLES = 32;

/** Rough wire size of one sample: its tensor text plus the JSON around it. */
export function approximateBytes(sample: Sample): number {
  return sample.tensor.data.length + 400;
}

export type NextBatch =
  | { kind: 'batch'; samples: Sample[]; payload: Uint8Array }
  /** A single sample that does not fit a message on its own (removed from the queue). */
  | { kind: 'too-large'; sample: Sample; bytes: number }
  | { kind: 'invalid'; samples: Sample[]; error: Error }
  | { kind: 'empty' };

export class SampleQueue {
  #items: Sample[] = [];
  #bytes = 0;

  constructor(
    readonly maxSamples: number,
    readonly maxBytes: number,
  ) {
    if (!(Number.isInteger(maxSamples) && maxSamples >= 1)) {
      throw new RangeError(`sample queue needs room for at least one sample, got ${maxSamples}`);
    }
  }

  get length(): number {
    return this.#items.length;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Appends a sample and returns the oldest ones dropped to make room. */
  push(sample: Sample): Sample[] {
    this.#items.push(sample);
    this.#bytes += approximateBytes(sample);
    const dropped: Sample[] = [];
    while (this.#items.length > this.maxSamples || (this.#bytes > this.maxBytes && this.#items.length > 1)) {
      const oldest = this.#items.shift() as Sample;
      this.#bytes -= approximateBytes(oldest);
      dropped.push(oldest);
    }
    return dropped;
  }

  /** Removes and encodes the oldest samples that fit one message. */
  nextBatch(deviceId: string): NextBatch {
    let count = Math.min(MAX_BATCH_SAMPLES, this.#items.length);
    if (count === 0) return { kind: 'empty' };
    // Trim by the estimate first, so the encoder rarely works on a batch that is then cut.
    let estimate = 0;
    for (let i = 0; i < count; i++) {
      estimate += approximateBytes(this.#items[i] as Sample);
      if (estimate > sampleBatchPayload.maxBytes) {
        count = Math.max(1, i);
        break;
      }
    }
    for (;;) {
      const samples = this.#items.slice(0, count);
      let payload: Uint8Array;
      try {
        payload = sampleBatchPayload.encode({ v: 1, deviceId, samples });
      } catch (err) {
        // Samples are checked before they are queued, so this is a bug: drop them rather than retry.
        this.#remove(count);
        return { kind: 'invalid', samples, error: err as Error };
      }
      if (payload.byteLength <= sampleBatchPayload.maxBytes) {
        this.#remove(count);
        return { kind: 'batch', samples, payload };
      }
      if (count === 1) {
        this.#remove(1);
        return { kind: 'too-large', sample: samples[0] as Sample, bytes: payload.byteLength };
      }
      count = Math.ceil(count / 2);
    }
  }

  /** Empties the queue and returns what it held. */
  clear(): Sample[] {
    const items = this.#items;
    this.#items = [];
    this.#bytes = 0;
    return items;
  }

  #remove(count: number): void {
    for (const sample of this.#items.splice(0, count)) this.#bytes -= approximateBytes(sample);
  }
}
