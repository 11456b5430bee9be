import { describe, expect, it } from 'vitest';
import { chunkByteRange, chunkCount, selectChunks } from './chunk-geometry.ts';

describe('chunk geometry', () => {
  it('splits an artifact into full chunks and a shorter last one', () => {
    expect(chunkCount(4820, 1024)).toBe(5);
    expect(chunkCount(4096, 1024)).toBe(4);
    expect(chunkCount(0, 1024)).toBe(1);
    expect(chunkByteRange(4820, 1024, 0)).toEqual({ start: 0, end: 1024 });
    expect(chunkByteRange(4820, 1024, 4)).toEqual({ start: 4096, end: 4820 });
  });

  it('selects the distinct indices of overlapping ranges in order', () => {
    expect(
      selectChunks(
        [
          [3, 4],
          [0, 1],
          [1, 3],
        ],
        5,
      ),
    ).toEqual({ ok: true, indices: [0, 1, 2, 3, 4] });
  });

  it('clamps a range that runs past the end', () => {
    expect(selectChunks([[3, 99]], 5)).toEqual({ ok: true, indices: [3, 4] });
  });

  it('refuses a range that starts past the last chunk, naming it', () => {
    const selection = selectChunks(
      [
        [0, 0],
        [5, 7],
      ],
      5,
    );
    expect(selection.ok).toBe(false);
    if (!selection.ok) expect(selection.reason).toContain('[5, 7]');
  });
});
