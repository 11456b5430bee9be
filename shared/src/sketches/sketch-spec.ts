import * as z from 'zod';
import { canonicalJson } from '../canonical-json.ts';
import { utf8Encode } from '../encoding.ts';
import { projectionSpecSchema } from './projection.ts';

/** Feature names travel as keys on the wire: short, ASCII, no spaces. */
export const featureNameSchema = z.string().regex(/^[a-z][a-zA-Z0-9_.-]{0,63}$/, 'invalid feature name');

const edgesSchema = z
  .array(z.number().finite())
  .max(63)
  .refine((edges) => edges.every((e, i) => i === 0 || e > (edges[i - 1] as number)), {
    message: 'bin edges must strictly increase',
  });

/**
 * What a device needs to sketch a window the way the reference profile was sketched: bin edges per
 * feature (from the profile's deciles), the embedding projection seed and the number of classes.
 * It is the part of a `ReferenceProfile` that ships to devices; its fingerprint travels with each
 * window so the cloud never merges counts made against different edges.
 *
 * @example
 * const spec = sketchSpecSchema.parse({ v: 1, classes: 10, projection: { seed: 7, dims: 4 },
 *   features: [{ name: 'brightness', edges: [0.08, 0.1, 0.12] }] });
 * sketchSpecFingerprint(spec); // e.g. '3f9c01aa'
 */
export const sketchSpecSchema = z
  .object({
    v: z.literal(1),
    classes: z.number().int().min(2).max(1000),
    projection: projectionSpecSchema.nullable(),
    features: z.array(z.object({ name: featureNameSchema, edges: edgesSchema })).max(64),
  })
  .refine((s) => new Set(s.features.map((f) => f.name)).size === s.features.length, {
    message: 'feature names must be unique',
    path: ['features'],
  });
export type SketchSpec = z.infer<typeof sketchSpecSchema>;

export const FINGERPRINT_PATTERN = /^[0-9a-f]{8}$/;

/**
 * FNV-1a (32 bit) of the spec's canonical JSON, as 8 hex digits. Not a security measure: it only has
 * to tell apart the handful of specs one model name ever has, in 8 bytes per window. JSON prints
 * every double so that it parses back to the same double, so cloud and device agree exactly.
 */
export function sketchSpecFingerprint(spec: SketchSpec): string {
  // Every window made or merged asks for it; specs are not mutated once in use, so remember it.
  const known = fingerprints.get(spec);
  if (known !== undefined) return known;
  let hash = 0x811c9dc5;
  for (const byte of utf8Encode(canonicalJson(spec))) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  const fingerprint = (hash >>> 0).toString(16).padStart(8, '0');
  fingerprints.set(spec, fingerprint);
  return fingerprint;
}

const fingerprints = new WeakMap<SketchSpec, string>();
