// Rounding and the summary statistics the web bench reports for a series of timings.

export const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

export interface Stats {
  median: number;
  p95: number;
  min: number;
  n: number;
}

export function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
  return {
    median: round(at(0.5), 3),
    p95: round(at(0.95), 3),
    min: round(s[0] ?? Number.NaN, 3),
    n: s.length,
  };
}
