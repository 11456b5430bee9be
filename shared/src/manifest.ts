import * as z from 'zod';
import { isBase64 } from './encoding.ts';
import { modelNameSchema, modelVariantSchema, modelVersionSchema, sha256Schema } from './ids.ts';
import { preprocessingSpecSchema } from './preprocessing.ts';
import { sketchSpecSchema } from './sketches/sketch-spec.ts';

const tensorNameSchema = z.string().min(1).max(128);
const dimSchema = z.union([z.number().int().positive(), z.string().min(1).max(32)]);

export const tensorSpecSchema = z.object({
  name: tensorNameSchema,
  /** Dimensions; a string is a symbolic (dynamic) dimension such as "batch". */
  shape: z.array(dimSchema).min(1).max(8),
  dtype: z.enum(['float32', 'int8', 'uint8', 'int64']),
});
export type TensorSpec = z.infer<typeof tensorSpecSchema>;

/** What each model output means, so agents and the SDK know where probabilities and embeddings are. */
export const outputRoleSchema = z.enum(['logits', 'probabilities', 'embedding', 'other']);

export const outputSpecSchema = tensorSpecSchema.extend({ role: outputRoleSchema });
export type OutputSpec = z.infer<typeof outputSpecSchema>;

const base64Schema = z.string().refine(isBase64, 'must be base64');

/**
 * Golden inputs: a few preprocessed input tensors and the outputs the registry observed for them.
 * A device loads a new model, runs these and compares before it activates the model.
 */
export const goldenSetSchema = z.object({
  /** Output compared (by name), usually the probabilities. */
  output: tensorNameSchema,
  /** Max absolute difference tolerated per value. */
  tolerance: z.number().positive().max(1),
  cases: z
    .array(
      z.object({
        /** float32 little-endian, base64, shaped like the model input with batch 1. */
        input: base64Schema,
        /** float32 little-endian, base64. */
        expected: base64Schema,
      }),
    )
    .min(1)
    .max(16),
});
export type GoldenSet = z.infer<typeof goldenSetSchema>;

/** onnxruntime session config entries a variant needs (e.g. `session.disable_quant_qdq`). */
export const sessionOptionsSchema = z.record(z.string().regex(/^[a-z0-9_.]{1,64}$/), z.string().max(64));

/**
 * The model manifest: everything a device needs to fetch, verify, load and use one artifact. It is
 * what the cloud signs; the signature covers `canonicalJson(manifest)`.
 */
export const modelManifestSchema = z.object({
  v: z.literal(1),
  name: modelNameSchema,
  version: modelVersionSchema,
  variant: modelVariantSchema,
  sha256: sha256Schema,
  /** Artifact size in bytes. */
  size: z
    .number()
    .int()
    .positive()
    .max(2 ** 31),
  format: z.literal('onnx'),
  opset: z.number().int().min(7).max(30).optional(),
  createdAt: z.string().datetime(),
  input: tensorSpecSchema,
  outputs: z.array(outputSpecSchema).min(1).max(8),
  /** Class labels by output index. */
  classes: z.array(z.string().min(1).max(64)).min(2).max(1000),
  preprocessing: preprocessingSpecSchema,
  sessionOptions: sessionOptionsSchema.default({}),
  golden: goldenSetSchema.optional(),
  /**
   * How to sketch drift telemetry for this model: bin edges from the version's reference profile.
   * Optional: versions registered without a profile, and agents that predate it, do without.
   */
  sketchSpec: sketchSpecSchema.optional(),
});
export type ModelManifest = z.output<typeof modelManifestSchema>;
export type ModelManifestInput = z.input<typeof modelManifestSchema>;

/** A detached Ed25519 signature over the canonical JSON of a manifest. */
export const signatureSchema = z.object({
  alg: z.literal('ed25519'),
  /** First 16 hex chars of sha256(raw 32-byte public key): which cloud key signed. */
  keyId: z.string().regex(/^[0-9a-f]{16}$/, 'keyId must be 16 lowercase hex characters'),
  /** The 64-byte signature, base64. */
  value: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'signature must be 64 bytes of base64'),
});
export type Signature = z.infer<typeof signatureSchema>;

export const signedManifestSchema = z.object({
  manifest: modelManifestSchema,
  signature: signatureSchema,
});
export type SignedManifest = z.output<typeof signedManifestSchema>;

export { canonicalJson } from './canonical-json.ts';
