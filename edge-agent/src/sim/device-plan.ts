// Who is in the simulated fleet: ids, device classes in the configured mix, and the profile each
// simulated device runs with.
import type { DeviceProfile } from '@edgeloop/shared';
import { deviceIdSchema } from '@edgeloop/shared';

export interface SimulatedDeviceInfo {
  deviceId: string;
  /** Position in the fleet, from 0; stable across restarts, so ids and schedules are too. */
  index: number;
  /** A firmware-configs profile id. */
  deviceClass: string;
}

/** One device class and its share of the fleet (weights are relative: 3 and 1 make 75% / 25%). */
export interface ClassShare {
  deviceClass: string;
  weight: number;
}

/** Parses `simulated,raspberry-pi-4:2` (weight 1 unless given). */
export function parseClassMix(text: string): ClassShare[] {
  const shares = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part) => {
      const [deviceClass = '', weightText] = part.split(':');
      const weight = weightText === undefined ? 1 : Number(weightText);
      if (!deviceClass || !Number.isInteger(weight) || weight < 1 || weight > 1000) {
        throw new RangeError(`"${part}": expected <class> or <class>:<whole weight 1-1000>`);
      }
      return { deviceClass, weight };
    });
  if (shares.length === 0) throw new RangeError('give at least one device class');
  return shares;
}

/**
 * Ids `<prefix>-0000`, `<prefix>-0001`, … and classes dealt in a fixed rotation that follows the
 * weights, so every prefix of the fleet has roughly the configured mix.
 */
export function planDevices(options: {
  count: number;
  idPrefix: string;
  firstIndex?: number;
  classes: readonly ClassShare[];
}): SimulatedDeviceInfo[] {
  const { count, idPrefix, classes } = options;
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`device count must be ≥ 0, got ${count}`);
  if (classes.length === 0) throw new RangeError('give at least one device class');
  const rotation = interleave(classes);
  const first = options.firstIndex ?? 0;
  return Array.from({ length: count }, (_, i) => {
    const index = first + i;
    const deviceId = `${idPrefix}-${String(index).padStart(4, '0')}`;
    const valid = deviceIdSchema.safeParse(deviceId);
    if (!valid.success) throw new RangeError(`"${deviceId}" is not a valid device id (check the prefix)`);
    return { deviceId, index, deviceClass: rotation[index % rotation.length] as string };
  });
}

/** Smooth weighted round robin: weights 3,1 give a,a,b,a rather than a,a,a,b. */
function interleave(classes: readonly ClassShare[]): string[] {
  const total = classes.reduce((sum, c) => sum + c.weight, 0);
  const current = classes.map(() => 0);
  const order: string[] = [];
  for (let step = 0; step < total; step++) {
    let best = 0;
    classes.forEach((c, i) => {
      current[i] = (current[i] as number) + c.weight;
      if ((current[i] as number) > (current[best] as number)) best = i;
    });
    current[best] = (current[best] as number) - total;
    order.push((classes[best] as ClassShare).deviceClass);
  }
  return order;
}

/**
 * The profile a simulated device runs with: its class's policy (model variant, telemetry window,
 * limits) on the simulator's hardware. Many agents share this machine's CPU, so each gets one
 * inference thread and the CPU provider instead of the class's thread pool and accelerators.
 */
export function simulatedProfile(profile: DeviceProfile): DeviceProfile {
  return { ...profile, executionProviders: ['cpu'], threads: { intraOp: 1, interOp: 1 } };
}
