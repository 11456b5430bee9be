import { describe, expect, it } from 'vitest';
import { type FleetDevice, planRollout, seededShuffle, type VariantOption, waveBoundaries } from './plan.ts';
import { parseWaveList, type RolloutTarget, rolloutPolicySchema } from './policy.ts';
import { testProfile } from './testing.ts';

const profiles = new Map([
  ['pi', testProfile('pi', 'int8', 1_000_000)],
  ['gateway', testProfile('gateway', 'fp32', 64 * 1024 * 1024, 128 * 1024)],
  ['tiny', testProfile('tiny', 'fp32', 100_000)],
]);
const variants: VariantOption[] = [
  { variant: 'fp32', sha256: 'f'.repeat(64), size: 800_000 },
  { variant: 'int8', sha256: 'e'.repeat(64), size: 200_000 },
];

function fleet(n: number, deviceClass = 'pi'): FleetDevice[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `cam-${String(i).padStart(3, '0')}`,
    group: i % 2 === 0 ? 'line-1' : 'line-2',
    tags: i % 3 === 0 ? ['night', 'site:berlin'] : ['site:berlin'],
    deviceClass,
    active: null,
  }));
}

const plan = (target: RolloutTarget, devices: FleetDevice[], extra: { seed?: number; waves?: string } = {}) =>
  planRollout({
    target,
    fleet: devices,
    profiles,
    version: 3,
    variants,
    policy: rolloutPolicySchema.parse(extra.waves ? { waves: parseWaveList(extra.waves) } : {}),
    seed: extra.seed ?? 1,
    chunkSizes: [64 * 1024],
  });

describe('planRollout', () => {
  it('resolves each kind of target', () => {
    const devices = fleet(12);
    const ids = (t: RolloutTarget) =>
      plan(t, devices)
        .devices.map((d) => d.deviceId)
        .sort();
    expect(ids({ kind: 'group', group: 'line-1' })).toHaveLength(6);
    expect(ids({ kind: 'tags', tags: ['night', 'site:berlin'] })).toEqual([
      'cam-000',
      'cam-003',
      'cam-006',
      'cam-009',
    ]);
    expect(ids({ kind: 'class', deviceClass: 'pi' })).toHaveLength(12);
    expect(ids({ kind: 'class', deviceClass: 'gateway' })).toEqual([]);
    expect(ids({ kind: 'devices', deviceIds: ['cam-001', 'cam-011'] })).toEqual(['cam-001', 'cam-011']);
  });

  it('lists devices it cannot serve as excluded, with the reason', () => {
    const devices = [...fleet(2), { ...fleet(1)[0]!, id: 'old-1', deviceClass: 'tiny' }];
    devices.push({ ...fleet(1)[0]!, id: 'odd-1', deviceClass: 'no-such-class' });
    const result = plan(
      { kind: 'devices', deviceIds: ['cam-000', 'cam-001', 'old-1', 'odd-1', 'ghost'] },
      devices,
    );
    expect(result.devices.map((d) => d.deviceId).sort()).toEqual(['cam-000', 'cam-001']);
    expect(result.excluded).toEqual([
      { deviceId: 'ghost', reason: 'not a provisioned device' },
      { deviceId: 'odd-1', reason: 'unknown device class no-such-class' },
      {
        deviceId: 'old-1',
        reason:
          'no variant fits profile tiny: fp32 is 800000 bytes > maxModelBytes 100000; int8 is 200000 bytes > maxModelBytes 100000',
      },
    ]);
  });

  it('gives each device the variant its profile prefers, falling back to one that fits', () => {
    const devices: FleetDevice[] = [
      { id: 'pi-1', group: null, tags: [], deviceClass: 'pi', active: null },
      { id: 'gw-1', group: null, tags: [], deviceClass: 'gateway', active: null },
    ];
    const result = plan({ kind: 'devices', deviceIds: ['pi-1', 'gw-1'] }, devices);
    const byId = new Map(result.devices.map((d) => [d.deviceId, d]));
    expect(byId.get('pi-1')).toMatchObject({ variant: 'int8', sha256: 'e'.repeat(64), version: 3 });
    expect(byId.get('gw-1')).toMatchObject({ variant: 'fp32', sha256: 'f'.repeat(64) });
    // The gateway prefers 128 KiB chunks, which the artifact server does not serve.
    expect(byId.get('gw-1')?.chunkSize).toBe(64 * 1024);

    const smallPi = new Map([['pi', testProfile('pi', 'fp32', 500_000)]]);
    const fallback = planRollout({
      target: { kind: 'class', deviceClass: 'pi' },
      fleet: [devices[0]!],
      profiles: smallPi,
      version: 3,
      variants,
      policy: rolloutPolicySchema.parse({}),
      seed: 1,
      chunkSizes: [64 * 1024],
    });
    expect(fallback.devices[0]?.variant).toBe('int8'); // fp32 preferred but 800 kB > 500 kB
  });

  it('assigns waves deterministically from the seed', () => {
    const devices = fleet(40);
    const a = plan({ kind: 'class', deviceClass: 'pi' }, devices, { seed: 42 });
    const b = plan({ kind: 'class', deviceClass: 'pi' }, [...devices].reverse(), { seed: 42 });
    const c = plan({ kind: 'class', deviceClass: 'pi' }, devices, { seed: 43 });
    expect(a).toEqual(b);
    const canary = (p: typeof a) => p.devices.filter((d) => d.wave === 0).map((d) => d.deviceId);
    expect(canary(a)).toHaveLength(2); // 5% of 40
    expect(canary(a)).not.toEqual(canary(c));
    expect(a.waves.map((w) => w.size)).toEqual([2, 8, 30]);
    expect(a.waves[1]?.params).toEqual({
      successThreshold: 95,
      failureThreshold: 10,
      minSoakSeconds: 300,
      deviceTimeoutSeconds: 1800,
    });
  });

  it('carries per-wave overrides into the wave parameters', () => {
    const result = planRollout({
      target: { kind: 'class', deviceClass: 'pi' },
      fleet: fleet(10),
      profiles,
      version: 3,
      variants,
      policy: rolloutPolicySchema.parse({
        waves: [{ count: 1, minSoakSeconds: 3600, failureThreshold: 0 }, { percent: 100 }],
        minSoakSeconds: 60,
      }),
      seed: 7,
      chunkSizes: [64 * 1024],
    });
    expect(result.waves.map((w) => [w.size, w.params.minSoakSeconds, w.params.failureThreshold])).toEqual([
      [1, 3600, 0],
      [9, 60, 10],
    ]);
  });
});

describe('waveBoundaries', () => {
  const waves = (text: string, n: number) => {
    let previous = 0;
    return waveBoundaries(parseWaveList(text), n).map(({ end }) => {
      const size = end - previous;
      previous = end;
      return size;
    });
  };

  it('gives every wave at least one device and the last one the rest', () => {
    expect(waves('5%,25%,100%', 100)).toEqual([5, 20, 75]);
    expect(waves('5%,25%,100%', 4)).toEqual([1, 1, 2]);
    expect(waves('5%,25%,100%', 2)).toEqual([1, 1]);
    expect(waves('5%,25%,100%', 1)).toEqual([1]);
    expect(waves('2,5,50%', 10)).toEqual([2, 3, 5]);
    // A last wave short of 100% still takes everyone left.
    expect(waves('10%,50%', 10)).toEqual([1, 9]);
  });

  it('refuses a malformed wave list', () => {
    expect(() => parseWaveList('5%,abc')).toThrow(/neither a percent/);
  });
});

describe('seededShuffle', () => {
  it('is a permutation that depends only on the set and the seed', () => {
    const ids = Array.from({ length: 50 }, (_, i) => `d${i}`);
    const shuffled = seededShuffle(ids, 9);
    expect([...shuffled].sort()).toEqual([...ids].sort());
    expect(seededShuffle([...ids].reverse(), 9)).toEqual(shuffled);
    expect(shuffled).not.toEqual([...ids].sort());
  });
});
