/**
 * mulberry32: a tiny seeded 32-bit generator. The projection matrix must come out bit-identical on
 * the device, in the browser and in the cloud from the seed stored in the reference profile, so it
 * cannot use Math.random; Math.imul keeps every step in exact 32-bit integer arithmetic.
 *
 * @example
 * const next = seededUniform(42);
 * next(); // 0.6011037519201636, the same on every platform
 */
export function seededUniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
