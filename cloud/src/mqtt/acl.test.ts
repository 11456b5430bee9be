import { CHANNEL_PUBLISHER, DEVICE_CHANNELS, parseTopic, topicFilters, topics } from '@edgeloop/shared';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cloudPrincipal, devicePrincipal } from '../identity/principal.ts';
import { canPublish, canSubscribe, checkFilterSyntax, filterMatches } from './acl.ts';

const SHA = 'a'.repeat(64);
const deviceIdArb = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,12}$/);
const channelArb = fc.constantFrom(...DEVICE_CHANNELS);

/** Topics that belong to a device: every channel, split on `/` as the broker sees them. */
const deviceTopicsOf = (id: string) =>
  DEVICE_CHANNELS.map((c) => topics[c === 'artifact/req' ? 'artifactRequest' : c](id));

/** Adversarial filters: contract words, own and foreign ids, wildcards, junk, `$share`, empty levels. */
const filterArb = (own: string, other: string) =>
  fc
    .array(
      fc.oneof(
        fc.constantFrom(
          'el',
          'v1',
          'dev',
          'art',
          'req',
          'artifact',
          '+',
          '#',
          '',
          '$share',
          '$SYS',
          'g',
          SHA,
          '0',
        ),
        fc.constantFrom(own, other),
        channelArb,
        fc.string({ maxLength: 4 }),
      ),
      { minLength: 1, maxLength: 7 },
    )
    .map((levels) => levels.join('/'));

/** Filters in the shape an attacker would actually try: the contract's own structure with a twist. */
const prefixedFilterArb = (own: string, other: string) => {
  const level = fc.constantFrom('+', '#', '', 'x');
  const idLevel = fc.oneof(fc.constantFrom(own, other, `${own}x`, own.slice(0, -1) || 'a'), level);
  const tail = fc.oneof(channelArb, level, fc.constantFrom('artifact/+', 'artifact/#', 'status/#'));
  return fc.oneof(
    fc
      .tuple(fc.constantFrom('el/v1/dev', 'el/v1/+', 'el/+/dev', '+/v1/dev'), idLevel, tail)
      .map((l) => l.join('/')),
    fc.tuple(idLevel, fc.oneof(tail, fc.constant(''))).map(([id, t]) => `el/v1/dev/${id}${t ? `/${t}` : ''}`),
    fc
      .tuple(fc.constantFrom(SHA, '+', '#', 'x'), fc.constantFrom('0', '12', '+', '#', '01'), fc.boolean())
      .map(([sha, chunk, extra]) => `el/v1/art/${sha}/${chunk}${extra ? '/+' : ''}`),
  );
};

describe('acl: devices', () => {
  it('lets a device publish on its own device-published channels only', () => {
    const me = devicePrincipal('cam-1');
    for (const [i, topic] of deviceTopicsOf('cam-1').entries()) {
      const channel = DEVICE_CHANNELS[i] ?? 'status';
      expect(canPublish(me, topic).allowed, topic).toBe(CHANNEL_PUBLISHER[channel] === 'device');
    }
    expect(canPublish(me, topics.desired('cam-1'))).toMatchObject({ allowed: false, code: 'CLOUD_ONLY' });
    expect(canPublish(me, topics.telemetry('cam-2'))).toMatchObject({
      allowed: false,
      code: 'FOREIGN_DEVICE',
    });
    expect(canPublish(me, topics.artifactChunk(SHA, 0))).toMatchObject({
      allowed: false,
      code: 'CLOUD_ONLY',
    });
    expect(canPublish(me, '$SYS/broker/x')).toMatchObject({ allowed: false, code: 'RESERVED_TOPIC' });
    expect(canPublish(me, 'el/v1/dev/cam-1/telemetry/extra')).toMatchObject({ code: 'TOPIC_INVALID' });
    expect(canPublish(me, 'el/v1/dev/+/telemetry')).toMatchObject({ code: 'TOPIC_INVALID' });
  });

  it("lets a device publish retraining samples on its own samples topic, on no one else's", () => {
    expect(canPublish(devicePrincipal('cam-1'), topics.samples('cam-1'))).toEqual({ allowed: true });
    expect(canPublish(devicePrincipal('cam-1'), topics.samples('cam-2'))).toMatchObject({
      allowed: false,
      code: 'FOREIGN_DEVICE',
    });
    expect(canPublish(cloudPrincipal(), topics.samples('cam-1'))).toEqual({ allowed: true });
  });

  it('lets a device subscribe to its own topics and artifact chunks, nothing broader', () => {
    const me = devicePrincipal('cam-1');
    for (const ok of [
      topics.desired('cam-1'),
      'el/v1/dev/cam-1/+',
      'el/v1/dev/cam-1/#',
      'el/v1/art/+/+',
      topicFilters.artifactChunks(SHA),
      topics.artifactChunk(SHA, 7),
    ]) {
      expect(canSubscribe(me, ok), ok).toEqual({ allowed: true });
    }
    const refusals: Array<[string, string]> = [
      ['#', 'WILDCARD_TOO_BROAD'],
      ['+/#', 'WILDCARD_TOO_BROAD'],
      ['el/#', 'WILDCARD_TOO_BROAD'],
      ['el/v1/#', 'WILDCARD_TOO_BROAD'],
      ['el/v1/dev/#', 'WILDCARD_TOO_BROAD'],
      ['el/v1/dev/+/desired', 'WILDCARD_TOO_BROAD'],
      ['el/v1/+/cam-1/desired', 'WILDCARD_TOO_BROAD'],
      [topicFilters.shared('g', 'telemetry'), 'WILDCARD_TOO_BROAD'],
      [topics.desired('cam-2'), 'FOREIGN_DEVICE'],
      ['el/v1/art/#', 'TOPIC_INVALID'],
      ['el/v1/dev/cam-1/nope', 'TOPIC_INVALID'],
      ['el/v1/dev/cam-1', 'TOPIC_INVALID'],
      ['el/v1/dev/cam-1/de#', 'TOPIC_INVALID'],
      ['$SYS/#', 'RESERVED_TOPIC'],
    ];
    for (const [filter, code] of refusals) {
      expect(canSubscribe(me, filter), filter).toMatchObject({ allowed: false, code });
    }
  });

  it('property: a filter a device may subscribe to never matches another device topic', () => {
    const cases = fc
      .tuple(deviceIdArb, deviceIdArb)
      .filter(([own, other]) => own !== other)
      .chain(([own, other]) =>
        fc.tuple(
          fc.constant(own),
          fc.constant(other),
          fc.oneof(filterArb(own, other), prefixedFilterArb(own, other)),
        ),
      );
    let allowedSeen = 0;
    fc.assert(
      fc.property(cases, ([own, other, filter]) => {
        if (!canSubscribe(devicePrincipal(own), filter).allowed) return;
        allowedSeen++;
        for (const topic of deviceTopicsOf(other)) expect(filterMatches(filter, topic), filter).toBe(false);
        // and it matches at least one topic the device may legitimately read
        const readable = [...deviceTopicsOf(own), topics.artifactChunk(SHA, 0)];
        expect(readable.some((t) => filterMatches(filter, t)) || filter.startsWith('el/v1/art/')).toBe(true);
      }),
      { numRuns: 2000 },
    );
    // the generator must actually reach allowed filters, or the property says nothing
    expect(allowedSeen).toBeGreaterThan(5);
  });

  it('property: a device may publish only under its own id, on device-published channels', () => {
    fc.assert(
      fc.property(deviceIdArb, deviceIdArb, filterArb('x', 'y'), (own, other, junk) => {
        const me = devicePrincipal(own);
        for (const topic of [...deviceTopicsOf(other), `el/v1/${junk}`, junk]) {
          if (!canPublish(me, topic).allowed) continue;
          const parsed = parseTopic(topic);
          expect(parsed.kind === 'device' && parsed.deviceId === own).toBe(true);
          if (parsed.kind === 'device') expect(CHANNEL_PUBLISHER[parsed.channel]).toBe('device');
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('acl: cloud', () => {
  it('may publish and subscribe everywhere except writing $-topics', () => {
    const cloud = cloudPrincipal();
    expect(canPublish(cloud, topics.desired('cam-1')).allowed).toBe(true);
    expect(canPublish(cloud, topics.artifactChunk(SHA, 3)).allowed).toBe(true);
    expect(canPublish(cloud, '$SYS/x').allowed).toBe(false);
    expect(canSubscribe(cloud, '#').allowed).toBe(true);
    expect(canSubscribe(cloud, topicFilters.shared('ingest', 'telemetry')).allowed).toBe(true);
    expect(canSubscribe(cloud, 'a/#/b')).toMatchObject({ allowed: false, code: 'TOPIC_INVALID' });
  });
});

describe('filter helpers', () => {
  it('matches like an MQTT broker', () => {
    expect(filterMatches('#', 'el/v1/dev/a/status')).toBe(true);
    expect(filterMatches('el/v1/dev/+/status', 'el/v1/dev/a/status')).toBe(true);
    expect(filterMatches('el/v1/dev/a/#', 'el/v1/dev/a')).toBe(true);
    expect(filterMatches('el/v1/dev/a/+', 'el/v1/dev/a/artifact/req')).toBe(false);
    expect(filterMatches('+/x', '$SYS/x')).toBe(false);
    expect(checkFilterSyntax('a/+b')).toMatch(/\+/);
    expect(checkFilterSyntax('a/#/b')).toMatch(/#/);
    expect(checkFilterSyntax('a/+/#')).toBeUndefined();
  });
});
