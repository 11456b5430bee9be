import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type * as z from 'zod';
import { utf8Encode } from './encoding.ts';
import type { PayloadCodec } from './payload.ts';
import {
  artifactRequestArb,
  desiredArb,
  reportedArb,
  sampleBatchArb,
  statusArb,
  telemetryArb,
} from './testing/arbitraries.ts';
import { channelPayloads } from './wire.ts';

type AnyCodec = PayloadCodec<z.ZodType>;
const cases: [string, AnyCodec, fc.Arbitrary<unknown>][] = [
  ['status', channelPayloads.status, statusArb],
  ['desired', channelPayloads.desired, desiredArb],
  ['reported', channelPayloads.reported, reportedArb],
  ['telemetry', channelPayloads.telemetry, telemetryArb],
  ['samples', channelPayloads.samples, sampleBatchArb],
  ['artifact/req', channelPayloads['artifact/req'], artifactRequestArb],
];

describe.each(cases)('%s payload', (_name, codec, arb) => {
  it('round-trips every valid message (encode → decode → same value)', () => {
    fc.assert(
      fc.property(arb, (message) => {
        const once = codec.decode(codec.encode(message));
        expect(once.ok).toBe(true);
        if (!once.ok) return;
        // Decoding applies defaults; a second round trip must be exact.
        const twice = codec.decode(codec.encode(once.value));
        expect(twice).toEqual(once);
      }),
      { numRuns: 60 },
    );
  });

  it('rejects a wrong schema version with SCHEMA_VERSION_UNSUPPORTED and says which', () => {
    fc.assert(
      fc.property(
        arb,
        fc.oneof(fc.integer({ min: 2, max: 1000 }), fc.constant(0), fc.constant('1')),
        (message, v) => {
          const result = codec.decode(JSON.stringify({ ...(message as object), v }));
          expect(result.ok).toBe(false);
          if (result.ok) return;
          expect(result.error.code).toBe('SCHEMA_VERSION_UNSUPPORTED');
          expect(result.error.reason).toContain(`schema version ${JSON.stringify(v)} is not supported`);
        },
      ),
      { numRuns: 20 },
    );
  });

  it('rejects a message without a version, naming the field', () => {
    fc.assert(
      fc.property(arb, (message) => {
        const { v: _v, ...rest } = message as { v: number };
        const result = codec.decode(JSON.stringify(rest));
        expect(result.ok).toBe(false);
        if (!result.ok) expect(result.error.issues).toContainEqual({ path: 'v', message: 'required' });
      }),
      { numRuns: 10 },
    );
  });

  it('rejects garbage bytes with a reason and never throws', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.json().map(utf8Encode)), (bytes) => {
        const result = codec.decode(bytes);
        if (!result.ok) {
          expect(['MALFORMED_JSON', 'VALIDATION_FAILED', 'SCHEMA_VERSION_UNSUPPORTED']).toContain(
            result.error.code,
          );
          expect(result.error.reason.length).toBeGreaterThan(codec.name.length);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('rejects payloads over its size limit before parsing', () => {
    const result = codec.decode('x'.repeat(codec.maxBytes + 1));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('refuses to encode an invalid value', () => {
    expect(() => codec.encode({ v: 1 } as never)).toThrow(/refusing to encode an invalid/);
  });
});

describe('field-level rejections read like a person wrote them', () => {
  it('names the path and the rule', () => {
    const bad = {
      v: 1,
      deviceId: 'cam-1',
      seq: -1,
      windowStart: 10,
      windowEnd: 5,
      model: null,
      inferences: 2,
      errors: 3,
      latencyMs: null,
      classCounts: [],
      meanConfidence: 1.5,
    };
    const result = channelPayloads.telemetry.decode(JSON.stringify(bad));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe('VALIDATION_FAILED');
    const paths = result.error.issues.map((i) => i.path);
    expect(paths).toContain('seq');
    expect(paths).toContain('meanConfidence');
    expect(result.error.reason).toMatch(/^telemetry: seq: /);
  });

  it('rejects counts past 2^53 and negative latency', () => {
    const window = {
      v: 1,
      deviceId: 'cam-1',
      seq: 2 ** 53 + 2,
      windowStart: 0,
      windowEnd: 1,
      model: null,
      inferences: 1,
      errors: 0,
      latencyMs: { count: 1, min: -1, max: 1, mean: 0, p50: 0, p95: 0, p99: 0 },
      classCounts: [1],
      meanConfidence: 0.5,
    };
    const result = channelPayloads.telemetry.check(window);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const paths = result.error.issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['seq', 'latencyMs.min']));
  });

  it('rejects errors > inferences and an inconsistent latency summary', () => {
    const result = channelPayloads.telemetry.check({
      v: 1,
      deviceId: 'cam-1',
      seq: 1,
      windowStart: 0,
      windowEnd: 1,
      model: null,
      inferences: 1,
      errors: 2,
      latencyMs: { count: 1, min: 5, max: 1, mean: 3, p50: 3, p95: 3, p99: 3 },
      classCounts: [],
      meanConfidence: null,
    });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.reason).toContain('errors cannot exceed inferences');
  });

  it('rejects a desired state whose chunk count does not match the size', () => {
    const [valid] = fc.sample(
      desiredArb.filter((d) => d.model !== null),
      1,
    );
    const model = valid!.model!;
    const broken = {
      ...valid,
      model: { ...model, delivery: { ...model.delivery, chunks: model.delivery.chunks + 1 } },
    };
    const result = channelPayloads.desired.check(broken);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.reason).toContain('model.delivery.chunks');
  });

  it('reads a reported state with or without the optional shadow status, and rejects a bad one', () => {
    const base = {
      v: 1,
      generation: 3,
      rolloutId: null,
      active: null,
      previous: null,
      phase: { state: 'idle' },
      at: 1,
    };
    const sha256 = 'a'.repeat(64);
    const older = channelPayloads.reported.decode(JSON.stringify(base));
    expect(older.ok && older.value.shadow).toBeUndefined();
    const failed = { sha256, state: 'failed', reason: 'SIGNATURE_INVALID', message: 'forged' };
    const withShadow = channelPayloads.reported.decode(JSON.stringify({ ...base, shadow: failed }));
    expect(withShadow.ok && withShadow.value.shadow).toEqual(failed);
    const bad = channelPayloads.reported.check({ ...base, shadow: { sha256, state: 'loading' } });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error.issues.map((i) => i.path)).toContain('shadow.state');
  });

  it('rejects malformed JSON as MALFORMED_JSON', () => {
    const result = channelPayloads.status.decode('{"v":1,');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe('MALFORMED_JSON');
  });

  it('rejects a JSON array or scalar as not an object', () => {
    for (const raw of ['[]', '1', 'null', '"x"']) {
      const result = channelPayloads.reported.decode(raw);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error.reason).toBe('reported: expected a JSON object');
    }
  });
});
