// How an artifact of `size` bytes splits into chunks of `chunkSize`, and which chunk indices a
// request's ranges name once checked against that split. Pure: the server and its tests share it.

/** Number of chunks; an empty artifact still has one (empty) chunk, so it can be delivered. */
export function chunkCount(size: number, chunkSize: number): number {
  return Math.max(1, Math.ceil(size / chunkSize));
}

/** Byte range of chunk `index`, `end` exclusive; the last chunk may be shorter. */
export function chunkByteRange(
  size: number,
  chunkSize: number,
  index: number,
): { start: number; end: number } {
  const start = index * chunkSize;
  return { start, end: Math.min(size, start + chunkSize) };
}

export type RangeSelection = { ok: true; indices: number[] } | { ok: false; reason: string };

/**
 * The distinct chunk indices named by inclusive `[first, last]` ranges, ascending. A range that
 * starts past the last chunk means the device has the wrong geometry for this artifact, so the
 * whole request is refused; a range that merely runs past the end is clamped to it.
 */
export function selectChunks(
  ranges: ReadonlyArray<readonly [number, number]>,
  total: number,
): RangeSelection {
  const wanted = new Set<number>();
  for (const [first, last] of ranges) {
    if (first >= total) {
      return { ok: false, reason: `range [${first}, ${last}] starts past the last chunk (${total - 1})` };
    }
    for (let index = first; index <= Math.min(last, total - 1); index++) wanted.add(index);
  }
  return { ok: true, indices: [...wanted].sort((a, b) => a - b) };
}
