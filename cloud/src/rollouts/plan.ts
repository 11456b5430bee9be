// Planning a rollout, purely: which devices the target names, which variant each one gets (its
// profile's preference, never larger than the profile allows), and which wave each one is in. The
// wave assignment is a seeded shuffle, so the same inputs always give the same plan and a restarted
// cloud (or a reviewer) can recompute it.
import type { DeviceProfile, ModelRef, ModelVariant } from '@edgeloop/shared';
import { type RolloutPolicy, type RolloutTarget, type WaveParams, waveParams } from './policy.ts';
import { newShadowPhase } from './shadow.ts';

/** A device as the planner needs it. */
export interface FleetDevice {
  id: string;
  group: string | null;
  tags: readonly string[];
  deviceClass: string;
  /** What it last reported running. */
  active: ModelRef | null;
}

/** One registered variant of the target version. */
export interface VariantOption {
  variant: ModelVariant;
  sha256: string;
  size: number;
}

export interface PlannedDevice {
  deviceId: string;
  wave: number;
  version: number;
  variant: ModelVariant;
  sha256: string;
  chunkSize: number;
  fromModel: ModelRef | null;
}

export interface ExcludedDevice {
  deviceId: string;
  reason: string;
}

export interface PlannedWave {
  index: number;
  params: WaveParams;
  size: number;
}

export interface RolloutPlan {
  waves: PlannedWave[];
  devices: PlannedDevice[];
  excluded: ExcludedDevice[];
}

export interface PlanInput {
  target: RolloutTarget;
  fleet: readonly FleetDevice[];
  profiles: ReadonlyMap<string, DeviceProfile>;
  /** The target version and its registered variants. */
  version: number;
  variants: readonly VariantOption[];
  policy: RolloutPolicy;
  seed: number;
  /** Chunk sizes the artifact server serves; a profile's own size is used when it is one of them. */
  chunkSizes: readonly number[];
}

export function targetMatches(target: RolloutTarget, device: FleetDevice): boolean {
  switch (target.kind) {
    case 'group':
      return device.group === target.group;
    case 'tags':
      return target.tags.every((tag) => device.tags.includes(tag));
    case 'class':
      return device.deviceClass === target.deviceClass;
    case 'devices':
      return target.deviceIds.includes(device.id);
  }
}

/**
 * The variant a device class gets: its preferred one if registered and small enough, else the other
 * if that fits, else none (with the reason, for the operator).
 */
export function chooseVariant(
  profile: DeviceProfile,
  variants: readonly VariantOption[],
): { ok: true; option: VariantOption } | { ok: false; reason: string } {
  const order: ModelVariant[] = profile.preferredVariant === 'fp32' ? ['fp32', 'int8'] : ['int8', 'fp32'];
  const refusals: string[] = [];
  for (const name of order) {
    const option = variants.find((v) => v.variant === name);
    if (option === undefined) refusals.push(`${name} not registered`);
    else if (option.size > profile.maxModelBytes)
      refusals.push(`${name} is ${option.size} bytes > maxModelBytes ${profile.maxModelBytes}`);
    else return { ok: true, option };
  }
  return { ok: false, reason: `no variant fits profile ${profile.id}: ${refusals.join('; ')}` };
}

export function chunkSizeFor(profile: DeviceProfile, served: readonly number[]): number {
  const preferred = profile.download.chunkSize;
  if (served.includes(preferred)) return preferred;
  const first = served[0];
  if (first === undefined) throw new RangeError('no chunk sizes served');
  return first;
}

/** mulberry32: a tiny seeded PRNG, plenty for shuffling device ids. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates over the ids in sorted order, so the result depends only on the set and the seed. */
export function seededShuffle<T extends string>(ids: readonly T[], seed: number): T[] {
  const out = [...ids].sort();
  const next = random(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * Cumulative wave ends over `n` devices. Every wave but the last takes at least one new device; a
 * wave left with none (a small fleet) is dropped; the last wave takes the rest.
 */
export function waveBoundaries(specs: RolloutPolicy['waves'], n: number): { spec: number; end: number }[] {
  const out: { spec: number; end: number }[] = [];
  let previous = 0;
  for (const [i, spec] of specs.entries()) {
    if (previous >= n) break;
    const last = i === specs.length - 1;
    const wanted = spec.percent !== undefined ? Math.ceil((spec.percent / 100) * n) : (spec.count ?? n);
    const end = last ? n : Math.min(n, Math.max(wanted, previous + 1));
    out.push({ spec: i, end });
    previous = end;
  }
  return out;
}

export function planRollout(input: PlanInput): RolloutPlan {
  const excluded: ExcludedDevice[] = [];
  const eligible = new Map<string, Omit<PlannedDevice, 'wave'>>();
  const known = new Set(input.fleet.map((d) => d.id));
  if (input.target.kind === 'devices') {
    for (const id of input.target.deviceIds) {
      if (!known.has(id)) excluded.push({ deviceId: id, reason: 'not a provisioned device' });
    }
  }
  for (const device of input.fleet) {
    if (!targetMatches(input.target, device)) continue;
    const profile = input.profiles.get(device.deviceClass);
    if (profile === undefined) {
      excluded.push({ deviceId: device.id, reason: `unknown device class ${device.deviceClass}` });
      continue;
    }
    const choice = chooseVariant(profile, input.variants);
    if (!choice.ok) {
      excluded.push({ deviceId: device.id, reason: choice.reason });
      continue;
    }
    eligible.set(device.id, {
      deviceId: device.id,
      version: input.version,
      variant: choice.option.variant,
      sha256: choice.option.sha256,
      chunkSize: chunkSizeFor(profile, input.chunkSizes),
      fromModel: device.active,
    });
  }
  const order = seededShuffle([...eligible.keys()], input.seed);
  const boundaries = waveBoundaries(input.policy.waves, order.length);
  const devices: PlannedDevice[] = [];
  const waves: PlannedWave[] = [];
  let start = 0;
  for (const [index, { spec, end }] of boundaries.entries()) {
    for (const id of order.slice(start, end)) {
      devices.push({ ...(eligible.get(id) as Omit<PlannedDevice, 'wave'>), wave: index });
    }
    const waveSpec = input.policy.waves[spec] ?? {};
    const params = waveParams(input.policy, waveSpec);
    // The shadow phase runs on the first wave's devices, before that wave starts.
    const shadow = index === 0 && input.policy.shadow ? newShadowPhase(input.policy.shadow) : undefined;
    waves.push({ index, params: shadow ? { ...params, shadow } : params, size: end - start });
    start = end;
  }
  excluded.sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
  return { waves, devices, excluded };
}

/** A device a rollback returns, with the variant record of the model it ran before. */
export interface RollbackCandidate {
  deviceId: string;
  /** What the rolled-back rollout sent it; kept as the rollback's own `fromModel`. */
  current: ModelRef | null;
  /** The variant it ran before, as registered; null when there is none to return to. */
  previous: (VariantOption & { model: string; version: number }) | null;
  chunkSize: number;
}

/**
 * A rollback is a rollout in one wave, each device back to the artifact it ran before. Devices
 * without a previous model are excluded (there is nothing to return them to).
 */
export function planRollback(candidates: readonly RollbackCandidate[], params: WaveParams): RolloutPlan {
  const devices: PlannedDevice[] = [];
  const excluded: ExcludedDevice[] = [];
  for (const c of [...candidates].sort((a, b) => (a.deviceId < b.deviceId ? -1 : 1))) {
    if (c.previous === null) {
      excluded.push({ deviceId: c.deviceId, reason: 'no previous registered model to return to' });
      continue;
    }
    devices.push({
      deviceId: c.deviceId,
      wave: 0,
      version: c.previous.version,
      variant: c.previous.variant,
      sha256: c.previous.sha256,
      chunkSize: c.chunkSize,
      fromModel: c.current,
    });
  }
  return {
    waves: devices.length > 0 ? [{ index: 0, params, size: devices.length }] : [],
    devices,
    excluded,
  };
}
