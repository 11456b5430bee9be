// The reliability suite. In the default `pnpm test`: one seed, every fault kind once, a fleet of 6.
// `pnpm test:chaos` (CHAOS_FULL=1): more seeds, more rounds, 8 agents; CHAOS_SEED / CHAOS_SEEDS and
// CHAOS_ROUNDS choose them. Each run prints what it injected and which invariants held.
import { describe, expect, it } from 'vitest';
import { FAULTS } from './faults.ts';
import { runChaos } from './runner.ts';

const full = process.env.CHAOS_FULL === '1';
const seeds = (
  process.env.CHAOS_SEEDS ??
  process.env.CHAOS_SEED ??
  (full ? '1,2,3' : String(Date.now() % 100_000))
)
  .split(',')
  .map((s) => Number(s.trim()))
  .filter((n) => Number.isSafeInteger(n));
const rounds = Number(process.env.CHAOS_ROUNDS ?? (full ? FAULTS.length * 3 : FAULTS.length));

describe('chaos: faults at random points of the loop', () => {
  it.each(seeds)(
    'seed %i: every invariant holds',
    async (seed) => {
      const report = await runChaos({
        seed,
        rounds,
        devices: full ? 8 : 6,
        ...(process.env.CHAOS_FAULTS ? { faults: process.env.CHAOS_FAULTS.split(',') } : {}),
        log: (line) => console.log(`[chaos ${seed}] ${line}`),
      });
      console.log(report.text);
      expect(report.invariants.filter((i) => !i.held)).toEqual([]);
      expect(report.invariants.length).toBeGreaterThanOrEqual(6);
    },
    full ? 30 * 60_000 : 240_000,
  );
});
