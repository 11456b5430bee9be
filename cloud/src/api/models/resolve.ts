// Which variant a client gets: the one its device class prefers, unless that one is larger than the
// class accepts, then the smallest that fits. A class that fits none is told so (MODEL_TOO_LARGE)
// rather than handed a model it cannot hold.
import { type DeviceProfile, EdgeloopError, type ModelVariant } from '@edgeloop/shared';
import type { VariantRecord } from '../../registry/index.ts';

export type VariantLimits = Pick<DeviceProfile, 'id' | 'preferredVariant' | 'maxModelBytes'>;

export function chooseVariant(
  variants: VariantRecord[],
  options: { variant?: ModelVariant | undefined; profile?: VariantLimits | undefined },
): VariantRecord {
  const { profile } = options;
  const label = variants[0] ? `${variants[0].model} v${variants[0].version}` : 'this version';
  const fits = (v: VariantRecord) => profile === undefined || v.size <= profile.maxModelBytes;
  const tooLarge = (candidates: VariantRecord[]) =>
    new EdgeloopError(
      'MODEL_TOO_LARGE',
      `${label}: ${candidates.map((v) => `${v.variant} is ${v.size} bytes`).join(', ')}; device class ${profile?.id} accepts at most ${profile?.maxModelBytes}`,
    );
  if (options.variant !== undefined) {
    const asked = variants.find((v) => v.variant === options.variant);
    if (asked === undefined)
      throw new EdgeloopError('NOT_FOUND', `${label} has no ${options.variant} variant`);
    if (!fits(asked)) throw tooLarge([asked]);
    return asked;
  }
  // Without a device class the reference variant (fp32) is what a generic client gets.
  const preferred = profile?.preferredVariant ?? 'fp32';
  const ordered = [
    ...variants.filter((v) => v.variant === preferred),
    ...variants.filter((v) => v.variant !== preferred).sort((a, b) => a.size - b.size),
  ];
  const chosen = ordered.find(fits);
  if (chosen === undefined) throw tooLarge(ordered);
  return chosen;
}
