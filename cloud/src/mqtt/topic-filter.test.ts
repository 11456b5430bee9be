import { describe, expect, it } from 'vitest';
import { filterMatches } from './acl.ts';
import { compileFilter } from './topic-filter.ts';

describe('compileFilter', () => {
  const filters = ['el/v1/dev/+/telemetry', 'el/v1/#', '#', '+', '+/+', 'a/b', 'a/+/#', 'a//b', '$SYS/#', ''];
  const topicsToTry = [
    'el/v1/dev/cam-1/telemetry',
    'el/v1/dev/cam-1/telemetry/x',
    'el/v1/dev/cam-1',
    'el/v1/dev//telemetry',
    'el/v1',
    'el/v1/',
    'a/b',
    'a/b/',
    'a/bb',
    'a',
    'a//b',
    '',
    '/',
    '$SYS/broker',
  ];
  it('matches exactly as filterMatches does', () => {
    for (const filter of filters) {
      const matches = compileFilter(filter);
      for (const topic of topicsToTry) {
        expect([filter, topic, matches(topic)]).toEqual([filter, topic, filterMatches(filter, topic)]);
      }
    }
  });

  it('ignores a $share/<group>/ prefix', () => {
    expect(compileFilter('$share/ingest/el/v1/dev/+/telemetry')('el/v1/dev/cam-1/telemetry')).toBe(true);
  });
});
