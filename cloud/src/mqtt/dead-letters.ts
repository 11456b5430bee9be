import type { Counter } from 'prom-client';
import type { Db } from '../db/index.ts';
import { deadLetters } from '../db/schema.ts';
import type { Logger } from './observability.ts';

/** A message refused at the MQTT boundary, as kept in `dead_letters`. */
export interface DeadLetter {
  topic: string;
  deviceId: string | null;
  channel: string;
  /** Stable code: a shared payload rejection code, TOPIC_INVALID, DEVICE_MISMATCH, NOT_FOUND. */
  code: string;
  reason: string;
  raw: Uint8Array;
}

/**
 * Writes refused messages to `dead_letters` (raw bytes capped) and counts them. A flood of garbage
 * must not become a flood of inserts: past `perSecond` letters a second they are only counted.
 */
export class DeadLetterSink {
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly db: Db,
    private readonly counter: Counter<'channel' | 'code' | 'stored'>,
    private readonly logger: Logger,
    private readonly options: { rawLimit: number; perSecond: number; now: () => number },
  ) {
    this.tokens = options.perSecond;
    this.refilledAt = options.now();
  }

  async record(letter: DeadLetter): Promise<boolean> {
    const stored = this.take();
    this.counter.inc({ channel: letter.channel, code: letter.code, stored: String(stored) });
    this.logger.warn(
      {
        event: 'mqtt.dead_letter',
        topic: letter.topic,
        deviceId: letter.deviceId,
        code: letter.code,
        bytes: letter.raw.byteLength,
        stored,
      },
      letter.reason,
    );
    if (!stored) return false;
    await this.db.insert(deadLetters).values({
      source: 'mqtt',
      // PostgreSQL text cannot hold NUL, and a reason may quote the offending bytes.
      topic: withoutNul(letter.topic.slice(0, 512)),
      deviceId: letter.deviceId,
      code: letter.code,
      reason: withoutNul(letter.reason.slice(0, 2000)),
      raw: letter.raw.subarray(0, this.options.rawLimit),
      rawBytes: letter.raw.byteLength,
    });
    return true;
  }

  private take(): boolean {
    const now = this.options.now();
    const elapsed = (now - this.refilledAt) / 1000;
    this.tokens = Math.min(this.options.perSecond, this.tokens + elapsed * this.options.perSecond);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

function withoutNul(text: string): string {
  return text.replaceAll('\0', '\\0');
}
