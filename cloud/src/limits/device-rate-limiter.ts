// One token bucket per device, so a flood from one device (a bug, a replayed queue gone wrong, a
// compromised key) cannot starve the others. Used by telemetry ingestion and by the artifact server;
// each sizes its own burst and rate.

export interface DeviceRateLimit {
  /** Sustained messages per second per device. */
  perSecond: number;
  /** Messages a device may send at once. */
  burst: number;
}

export class DeviceRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private sweptAt: number;

  constructor(
    private readonly limit: DeviceRateLimit,
    private readonly now: () => number = Date.now,
  ) {
    if (!(limit.perSecond > 0) || !(limit.burst >= 1)) {
      throw new RangeError(`rate limit needs perSecond > 0 and burst >= 1, got ${JSON.stringify(limit)}`);
    }
    this.sweptAt = now();
  }

  /** Takes one token for `deviceId`; false when its bucket is empty. */
  take(deviceId: string): boolean {
    const now = this.now();
    this.sweep(now);
    const bucket = this.buckets.get(deviceId) ?? { tokens: this.limit.burst, at: now };
    bucket.tokens = Math.min(
      this.limit.burst,
      bucket.tokens + ((now - bucket.at) / 1000) * this.limit.perSecond,
    );
    bucket.at = now;
    this.buckets.set(deviceId, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  get trackedDevices(): number {
    return this.buckets.size;
  }

  /** A bucket that has refilled completely carries no state: drop it so memory follows activity. */
  private sweep(now: number): void {
    const fullAfterMs = (this.limit.burst / this.limit.perSecond) * 1000;
    if (now - this.sweptAt < Math.max(fullAfterMs, 10_000)) return;
    this.sweptAt = now;
    for (const [id, b] of this.buckets) {
      if (now - b.at >= fullAfterMs) this.buckets.delete(id);
    }
  }
}
