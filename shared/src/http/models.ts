import * as z from 'zod';
import { isBase64 } from '../encoding.ts';
import { modelVariantSchema } from '../ids.ts';
import { signedManifestSchema } from '../manifest.ts';

/**
 * `GET /api/v1/models/{name}/resolve?alias=champion&deviceClass=browser`: which artifact a client
 * of that device class should run for an alias, with the signed manifest to verify it against.
 * Used by the web SDK (and any HTTP client); MQTT devices get the same manifest in `desired`.
 */
export const modelResolutionSchema = signedManifestSchema.extend({
  alias: z.string().min(1).max(64),
  /** Where to download the artifact bytes (absolute, or relative to the cloud URL). */
  artifactUrl: z.string().min(1).max(2048),
});
export type ModelResolution = z.output<typeof modelResolutionSchema>;

export const modelResolutionQuerySchema = z.object({
  alias: z.string().min(1).max(64).default('champion'),
  deviceClass: z.string().min(1).max(64).optional(),
  variant: modelVariantSchema.optional(),
});

/** `GET /api/v1/keys`: the cloud's signing public keys (raw 32-byte Ed25519, base64). */
export const publicKeySchema = z.object({
  alg: z.literal('ed25519'),
  keyId: z.string().regex(/^[0-9a-f]{16}$/),
  publicKey: z.string().length(44).refine(isBase64, 'must be base64'),
});
export type PublicKey = z.infer<typeof publicKeySchema>;

export const publicKeySetSchema = z.object({ keys: z.array(publicKeySchema).min(1) });
export type PublicKeySet = z.infer<typeof publicKeySetSchema>;
