import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deviceIdArb, sha256Arb } from './testing/arbitraries.ts';
import { DEVICE_CHANNELS, parseTopic, TopicError, topicFilters, topics, tryParseTopic } from './topics.ts';

describe('topic builders and parsers', () => {
  it('are inverses for every device channel', () => {
    fc.assert(
      fc.property(deviceIdArb, fc.constantFrom(...DEVICE_CHANNELS), (deviceId, channel) => {
        const builders = {
          status: topics.status,
          desired: topics.desired,
          reported: topics.reported,
          telemetry: topics.telemetry,
          samples: topics.samples,
          'artifact/req': topics.artifactRequest,
        };
        const topic = builders[channel](deviceId);
        expect(parseTopic(topic)).toEqual({ kind: 'device', deviceId, channel });
      }),
    );
  });

  it('are inverses for artifact chunks', () => {
    fc.assert(
      fc.property(sha256Arb, fc.nat({ max: 999_999_999 }), (sha256, chunk) => {
        expect(parseTopic(topics.artifactChunk(sha256, chunk))).toEqual({
          kind: 'artifact-chunk',
          sha256,
          chunk,
        });
      }),
    );
  });

  it('never lets a device id smuggle a level separator or wildcard into a topic', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 70 }),
        fc.constantFrom('/', '+', '#', '\u0000', ' ', 'A'),
        fc.string({ maxLength: 5 }),
        (prefix, bad, suffix) => {
          const id = prefix + bad + suffix;
          expect(() => topics.telemetry(id)).toThrow(TopicError);
        },
      ),
    );
  });

  it('builds only topics whose device segment is exactly the id (no extra levels)', () => {
    fc.assert(
      fc.property(deviceIdArb, (deviceId) => {
        const levels = topics.telemetry(deviceId).split('/');
        expect(levels).toEqual(['el', 'v1', 'dev', deviceId, 'telemetry']);
      }),
    );
  });

  it.each([
    ['', 'must start with el/v1/'],
    ['el/v2/dev/a/status', 'must start with el/v1/'],
    ['el/v1/dev/A/status', 'invalid device id'],
    ['el/v1/dev/+/status', 'invalid device id'],
    ['el/v1/dev/#', 'invalid device id'],
    ['el/v1/dev/a/unknown', 'unknown device channel'],
    ['el/v1/dev/a/status/extra', 'unknown device channel'],
    ['el/v1/dev/a/artifact', 'unknown device channel'],
    ['el/v1/art/abc/0', 'invalid sha256'],
    [`el/v1/art/${'a'.repeat(64)}/01`, 'invalid chunk index'],
    [`el/v1/art/${'a'.repeat(64)}/-1`, 'invalid chunk index'],
    [`el/v1/art/${'a'.repeat(64)}/0/x`, 'must be el/v1/art/{sha256}/{chunk}'],
    ['el/v1/other/x', 'unknown topic family'],
  ])('rejects %j with a reason (%s)', (topic, reason) => {
    expect(() => parseTopic(topic)).toThrow(reason);
    expect(tryParseTopic(topic)).toBeUndefined();
  });

  it('rejects arbitrary garbage without throwing anything but TopicError', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        try {
          parseTopic(s);
        } catch (err) {
          expect(err).toBeInstanceOf(TopicError);
        }
      }),
    );
  });

  it('builds subscription filters, including MQTT 5 shared subscriptions', () => {
    expect(topicFilters.allDevices('telemetry')).toBe('el/v1/dev/+/telemetry');
    expect(topicFilters.shared('ingest', 'telemetry')).toBe('$share/ingest/el/v1/dev/+/telemetry');
    expect(() => topicFilters.shared('a/b', 'telemetry')).toThrow(TopicError);
  });
});
