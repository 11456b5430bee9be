import { describe, expect, it } from 'vitest';
import { burstOf, SamplePolicy, type SamplingSettings, TokenBucket } from './sample-policy.ts';

const settings = (overrides: Partial<SamplingSettings> = {}): SamplingSettings => ({
  enabled: true,
  rate: 0,
  lowConfidenceThreshold: 0.5,
  maxPerHour: 3600,
  ...overrides,
});

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('TokenBucket', () => {
  it('starts full, refuses when empty and refills at its hourly rate', () => {
    const clock = manualClock();
    const bucket = new TokenBucket(2, 60, clock.now); // one token a minute
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, false]);
    clock.advance(59_000);
    expect(bucket.take()).toBe(false);
    clock.advance(1_000);
    expect(bucket.take()).toBe(true);
    clock.advance(3_600_000); // a long idle time refills only up to the capacity
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, false]);
  });

  it('a burst is one minute of the budget, at least one, none without a budget', () => {
    expect([burstOf(0), burstOf(1), burstOf(60), burstOf(600), burstOf(61)]).toEqual([0, 1, 1, 10, 2]);
  });
});

describe('SamplePolicy', () => {
  it('keeps every low-confidence inference and no confident one when the random rate is 0', () => {
    const policy = new SamplePolicy(settings({ lowConfidenceThreshold: 0.6 }));
    expect(policy.decide(0.59)).toEqual({ keep: true, reason: 'low-confidence' });
    expect(policy.decide(0.6)).toEqual({ keep: false, reason: null, rateLimited: false });
    expect(policy.decide(0.99)).toMatchObject({ keep: false });
  });

  it('samples confident inferences at the random rate', () => {
    const draws = [0.04, 0.06, 0.5, 0.01];
    const policy = new SamplePolicy(settings({ rate: 0.05 }), { random: () => draws.shift() ?? 1 });
    const kept = [0.9, 0.9, 0.9, 0.9].map((c) => policy.decide(c).keep);
    expect(kept).toEqual([true, false, false, true]);
    expect(policy.decide(0.9)).toMatchObject({ keep: false });

    // With Math.random the share kept is near the rate (10,000 draws: 5% ± ~1%).
    const loose = new SamplePolicy(settings({ rate: 0.05, maxPerHour: 100_000 }));
    let count = 0;
    for (let i = 0; i < 10_000; i++) if (loose.decide(0.9).keep) count++;
    expect(count).toBeGreaterThan(380);
    expect(count).toBeLessThan(620);
  });

  it("the desired config's samplingRate overrides the profile's rate, and clearing it restores it", () => {
    const policy = new SamplePolicy(settings({ rate: 0 }), { rateOverride: 1 });
    expect(policy.rate).toBe(1);
    expect(policy.decide(0.99)).toEqual({ keep: true, reason: 'random' });
    policy.overrideRate(0);
    expect(policy.decide(0.99)).toMatchObject({ keep: false });
    policy.overrideRate(undefined);
    expect(policy.rate).toBe(0);
  });

  it('keeps nothing when the profile does not enable sampling', () => {
    const policy = new SamplePolicy(settings({ enabled: false, rate: 1, lowConfidenceThreshold: 1 }));
    for (const confidence of [0, 0.5, 1]) {
      expect(policy.decide(confidence)).toEqual({ keep: false, reason: null, rateLimited: false });
    }
  });

  it('holds maxPerHour over two hours of a frame a second, all low-confidence', () => {
    const clock = manualClock();
    const maxPerHour = 120;
    const policy = new SamplePolicy(settings({ maxPerHour, lowConfidenceThreshold: 1 }), { now: clock.now });
    const keptAt: number[] = [];
    let limited = 0;
    for (let second = 0; second < 7200; second++) {
      const decision = policy.decide(0.2);
      if (decision.keep) keptAt.push(second);
      else if (decision.rateLimited) limited++;
      clock.advance(1000);
    }
    // Budget: a burst of 2 plus one every 30 s.
    expect(keptAt.length).toBeGreaterThanOrEqual(2 * maxPerHour);
    expect(keptAt.length).toBeLessThanOrEqual(2 * maxPerHour + burstOf(maxPerHour));
    expect(limited).toBe(7200 - keptAt.length);
    for (let start = 0; start <= 3600; start += 300) {
      const inHour = keptAt.filter((s) => s >= start && s < start + 3600).length;
      expect(inHour).toBeLessThanOrEqual(maxPerHour + burstOf(maxPerHour));
    }
  });

  it('keeps nothing with a zero hourly budget, and says the chosen ones were rate limited', () => {
    const policy = new SamplePolicy(settings({ maxPerHour: 0, rate: 1 }));
    expect(policy.decide(0.1)).toEqual({ keep: false, reason: 'low-confidence', rateLimited: true });
    expect(policy.decide(0.9)).toEqual({ keep: false, reason: 'random', rateLimited: true });
  });
});
