import { describe, expect, it } from 'vitest';
import { configEntriesToExtra, defaultThreadCount } from './session-options.ts';

describe('session options', () => {
  it('nests dotted config keys the way onnxruntime joins them back', () => {
    expect(
      configEntriesToExtra({
        'session.disable_quant_qdq': '1',
        'session.intra_op.allow_spinning': '0',
        plain: 'x',
      }),
    ).toEqual({ session: { disable_quant_qdq: '1', intra_op: { allow_spinning: '0' } }, plain: 'x' });
    expect(() => configEntriesToExtra({ session: '1', 'session.x': '2' })).toThrow(/collides/);
  });

  it('uses one thread unless cross-origin isolated, then up to 4', () => {
    expect(defaultThreadCount(false, 16)).toBe(1);
    expect(defaultThreadCount(true, 2)).toBe(2);
    expect(defaultThreadCount(true, 16)).toBe(4);
    expect(defaultThreadCount(true, undefined)).toBe(1);
  });
});
