/** A source of uniform numbers in [0, 1). Seeded so splits and corruptions are reproducible. */
export type Rng = () => number;

/**
 * mulberry32: a 32-bit PRNG, tiny and fast, good enough for shuffles and synthetic noise (not for
 * cryptography). The same seed yields the same sequence on every platform.
 *
 * @example
 * const rng = mulberry32(42);
 * rng(); // 0.6011037519201636, always
 */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One standard normal draw (Box–Muller); spends two uniforms so the stream stays simple to reason about. */
export function gaussian(rng: Rng): number {
  // 1 - u keeps the argument of log in (0, 1], avoiding log(0).
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Fisher–Yates shuffle in place; returns the same array for chaining. */
export function shuffleInPlace<E, T extends { length: number; [index: number]: E }>(items: T, rng: Rng): T {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = items[i] as E;
    items[i] = items[j] as E;
    items[j] = tmp;
  }
  return items;
}
