// What a registration carries and the checks it passes before anything is stored: the input shape
// (zod, so a caller from HTTP or the CLI gets a VALIDATION_FAILED naming the field), the ONNX
// structure of each artifact (a corrupted or truncated model is refused as MODEL_INVALID), and the
// manifest each variant will be signed as.
import {
  EdgeloopError,
  type ModelManifest,
  modelManifestSchema,
  modelNameSchema,
  modelVariantSchema,
  referenceProfileSchema,
  sha256Schema,
  sketchSpecFingerprint,
} from '@edgeloop/shared';
import { z } from 'zod';
import { decodeModel, opsetVersion, runtimeInputs } from '../onnx/index.ts';

/** Alias names: `champion`, `challenger` or any name with the model-name alphabet. */
export const aliasNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'alias must match [a-z0-9][a-z0-9_-]{0,63}');

/** Where a version came from: enough to reproduce it, or to explain it later. */
export const modelLineageSchema = z.object({
  /** sha256 of the dataset version it was trained on. */
  datasetHash: sha256Schema,
  /** Training parameters as the trainer received them (epochs, batch size, learning rate, seed...). */
  trainingParameters: z.record(z.string(), z.unknown()),
  /** Version of the code that trained it: a git commit, a package version. */
  codeVersion: z.string().min(1).max(128),
  /** The version of the same model it was fine-tuned from or retrained to replace. */
  parentVersion: z.number().int().positive().optional(),
  /** Which trainer/executor produced it (`builtin`, `external:<name>`). */
  trainer: z.string().min(1).max(128).optional(),
  /** The dataset by name, content version and where it was read from (mnist, a folder, fleet samples). */
  dataset: z
    .object({
      name: z.string().min(1).max(128),
      version: z.string().min(1).max(64),
      source: z.record(z.string(), z.unknown()),
    })
    .optional(),
});
export type ModelLineage = z.infer<typeof modelLineageSchema>;

const jsonObjectSchema = z.record(z.string(), z.unknown());

/** The manifest fields the caller supplies; name, version, sha256, size and dates come from the registry. */
export const manifestFieldsSchema = modelManifestSchema
  .pick({
    input: true,
    outputs: true,
    preprocessing: true,
    sessionOptions: true,
    golden: true,
    sketchSpec: true,
  })
  .extend({
    /** Defaults to the model's classes; when given, must equal them. */
    classes: modelManifestSchema.shape.classes.optional(),
  });
export type ManifestFields = z.input<typeof manifestFieldsSchema>;

export const variantInputSchema = z.object({
  variant: modelVariantSchema,
  bytes: z
    .custom<Uint8Array>((value) => value instanceof Uint8Array, 'artifact bytes must be a Uint8Array')
    .refine((b) => b.length > 0, 'artifact is empty'),
  manifestFields: manifestFieldsSchema,
  metrics: jsonObjectSchema.optional(),
  quantizationReport: jsonObjectSchema.optional(),
});
export type VariantInput = z.input<typeof variantInputSchema>;

export const registerVersionInputSchema = z.object({
  model: modelNameSchema,
  lineage: modelLineageSchema,
  /** Evaluation of the version (usually its fp32 variant). */
  metrics: jsonObjectSchema.optional(),
  /** Reference profile on validation data: the drift baseline. */
  referenceProfile: z.unknown().optional(),
  variants: z
    .array(variantInputSchema)
    .min(1)
    .max(modelVariantSchema.options.length)
    .refine((vs) => new Set(vs.map((v) => v.variant)).size === vs.length, 'each variant may appear once'),
  /** Aliases pointed at the new version in the same transaction (e.g. `challenger`). */
  aliases: z.array(aliasNameSchema).max(16).default([]),
  /** Who registers it, for the event log. */
  actor: z.string().min(1).max(128).default('system'),
});
export type RegisterVersionInput = z.input<typeof registerVersionInputSchema>;
export type ParsedRegistration = z.output<typeof registerVersionInputSchema>;

/** Further checks a deployment may add (e.g. load in onnxruntime and run the golden set). */
export type ArtifactCheck = (bytes: Uint8Array, manifest: ModelManifest) => Promise<void>;

export function parseRegistration(input: RegisterVersionInput): ParsedRegistration {
  const parsed = registerVersionInputSchema.safeParse(input);
  if (!parsed.success) {
    throw new EdgeloopError('VALIDATION_FAILED', `invalid registration: ${z.prettifyError(parsed.error)}`, {
      cause: parsed.error,
      details: parsed.error.issues,
    });
  }
  checkSketchSpecs(parsed.data);
  return parsed.data;
}

/**
 * A manifest's `sketchSpec` tells devices how to bin what they see; the cloud compares those bins
 * with the version's reference profile. Both must be the same spec, so a spec needs a v1 profile
 * with the same fingerprint.
 */
function checkSketchSpecs(registration: ParsedRegistration): void {
  const withSpec = registration.variants.filter((v) => v.manifestFields.sketchSpec !== undefined);
  if (withSpec.length === 0) return;
  const profile = referenceProfileSchema.safeParse(registration.referenceProfile);
  if (!profile.success) {
    throw new EdgeloopError(
      'VALIDATION_FAILED',
      'invalid registration: a manifest carries a sketchSpec but the reference profile is missing or invalid',
      { details: profile.error.issues },
    );
  }
  for (const v of withSpec) {
    const fingerprint = sketchSpecFingerprint(v.manifestFields.sketchSpec!);
    if (fingerprint !== profile.data.fingerprint) {
      throw new EdgeloopError(
        'VALIDATION_FAILED',
        `invalid registration: ${v.variant} sketchSpec ${fingerprint} is not the reference profile's ${profile.data.fingerprint}`,
      );
    }
  }
}

/**
 * The ONNX structure of an artifact, checked before it is stored: it must decode as a model and
 * declare the input and outputs the manifest names. Returns the default-domain opset.
 */
export function checkOnnxArtifact(
  bytes: Uint8Array,
  fields: { input: { name: string }; outputs: { name: string }[] },
  label: string,
): { opset: number | undefined } {
  let model: ReturnType<typeof decodeModel>;
  try {
    model = decodeModel(bytes);
  } catch (cause) {
    throw new EdgeloopError('MODEL_INVALID', `${label}: ${(cause as Error).message}`, { cause });
  }
  const graph = model.graph!;
  const inputs = new Set(runtimeInputs(graph).map((i) => i.name ?? ''));
  if (!inputs.has(fields.input.name)) {
    throw new EdgeloopError(
      'MODEL_INVALID',
      `${label}: the manifest's input '${fields.input.name}' is not an input of the model (it has: ${[...inputs].join(', ')})`,
    );
  }
  const outputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  for (const output of fields.outputs) {
    if (!outputs.has(output.name)) {
      throw new EdgeloopError(
        'MODEL_INVALID',
        `${label}: the manifest's output '${output.name}' is not an output of the model (it has: ${[...outputs].join(', ')})`,
      );
    }
  }
  return { opset: opsetVersion(model) };
}

/** Builds and validates the manifest a variant is signed as. */
export function buildManifest(args: {
  model: string;
  version: number;
  variant: ParsedRegistration['variants'][number];
  sha256: string;
  opset: number | undefined;
  classes: string[];
  createdAt: Date;
}): ModelManifest {
  const { manifestFields: fields } = args.variant;
  const label = `${args.model} v${args.version} ${args.variant.variant}`;
  if (fields.classes !== undefined && JSON.stringify(fields.classes) !== JSON.stringify(args.classes)) {
    throw new EdgeloopError(
      'VALIDATION_FAILED',
      `${label}: manifest classes ${JSON.stringify(fields.classes)} differ from the model's ${JSON.stringify(args.classes)}`,
    );
  }
  const parsed = modelManifestSchema.safeParse({
    v: 1,
    name: args.model,
    version: String(args.version),
    variant: args.variant.variant,
    sha256: args.sha256,
    size: args.variant.bytes.length,
    format: 'onnx',
    // Opsets outside the manifest's range are left out rather than refusing an otherwise good model.
    opset: args.opset !== undefined && args.opset >= 7 && args.opset <= 30 ? args.opset : undefined,
    createdAt: args.createdAt.toISOString(),
    input: fields.input,
    outputs: fields.outputs,
    classes: args.classes,
    preprocessing: fields.preprocessing,
    sessionOptions: fields.sessionOptions,
    golden: fields.golden,
    sketchSpec: fields.sketchSpec,
  });
  if (!parsed.success) {
    throw new EdgeloopError(
      'VALIDATION_FAILED',
      `${label}: invalid manifest: ${z.prettifyError(parsed.error)}`,
      {
        cause: parsed.error,
        details: parsed.error.issues,
      },
    );
  }
  return parsed.data;
}
