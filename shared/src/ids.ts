import * as z from 'zod';

/**
 * Device ids appear inside MQTT topics, so they must never contain a level separator (`/`) or a
 * wildcard (`+`, `#`): lowercase letters, digits, `_` and `-`, starting with a letter or digit.
 */
export const DEVICE_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const deviceIdSchema = z
  .string()
  .regex(
    DEVICE_ID_PATTERN,
    'device id must match [a-z0-9][a-z0-9_-]{0,63} (no "/", "+", "#", spaces or uppercase)',
  );
export type DeviceId = z.infer<typeof deviceIdSchema>;

export function isDeviceId(value: string): boolean {
  return DEVICE_ID_PATTERN.test(value);
}

/** Lowercase hex sha256 (64 chars): how artifacts are addressed. */
export const SHA256_PATTERN = /^[0-9a-f]{64}$/;
export const sha256Schema = z.string().regex(SHA256_PATTERN, 'sha256 must be 64 lowercase hex characters');
export type Sha256 = z.infer<typeof sha256Schema>;

/** Model names are used in URLs and file names: same alphabet as device ids. */
export const modelNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'model name must match [a-z0-9][a-z0-9_-]{0,63}');

/** Versions are assigned by the registry: positive integers rendered as strings ("1", "2", ...). */
export const modelVersionSchema = z
  .string()
  .regex(/^[1-9][0-9]{0,8}$/, 'model version must be a positive integer');

export const modelVariantSchema = z.enum(['fp32', 'int8']);
export type ModelVariant = z.infer<typeof modelVariantSchema>;

/** A pointer to one concrete artifact: which model, which version, which variant. */
export const modelRefSchema = z.object({
  name: modelNameSchema,
  version: modelVersionSchema,
  variant: modelVariantSchema,
  sha256: sha256Schema,
});
export type ModelRef = z.infer<typeof modelRefSchema>;

/** Rollout ids are assigned by the cloud (uuid-ish); kept loose but bounded and topic-safe. */
export const rolloutIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'rollout id must be 1-64 of [A-Za-z0-9_-]');

/** Milliseconds since the Unix epoch, as an integer. */
export const epochMsSchema = z.number().int().nonnegative().max(8_640_000_000_000_000);

/** A count that stays exact in a JavaScript number. */
export const countSchema = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
