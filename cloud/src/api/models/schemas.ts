// HTTP bodies of the model, artifact and job routes. Request bodies are strict; responses reuse the
// shared manifest and signature schemas, so what the API documents is what devices verify.
import {
  isBase64,
  modelManifestSchema,
  modelNameSchema,
  modelVariantSchema,
  preprocessingSpecSchema,
  sha256Schema,
  signatureSchema,
} from '@edgeloop/shared';
import { z } from 'zod';
import {
  datasetRefSchema,
  JOB_KINDS,
  JOB_STATUSES,
  outputRoleSchema,
  trainerSpecSchema,
} from '../../pipeline/index.ts';
import { aliasNameSchema } from '../../registry/index.ts';
import { isoTimestamp } from '../openapi.ts';

export const ModelName = modelNameSchema.meta({ example: 'digits' });
export const AliasName = aliasNameSchema.meta({ example: 'champion' });

export const ModelParam = z.object({ name: ModelName.meta({ param: { name: 'name', in: 'path' } }) });
export const VersionParam = ModelParam.extend({
  version: z.coerce
    .number()
    .int()
    .positive()
    .meta({ param: { name: 'version', in: 'path' }, example: 3 }),
});
export const AliasParam = ModelParam.extend({
  alias: AliasName.meta({ param: { name: 'alias', in: 'path' } }),
});
export const Sha256Param = z.object({ sha256: sha256Schema.meta({ param: { name: 'sha256', in: 'path' } }) });
export const JobParam = z.object({
  id: z
    .string()
    .regex(/^job-[0-9a-f]{12}$/, 'job id is job-<12 hex>')
    .meta({ param: { name: 'id', in: 'path' } }),
});

export const ModelSummary = z
  .object({
    name: z.string(),
    description: z.string(),
    classes: z.array(z.string()),
    createdAt: isoTimestamp,
    latestVersion: z.number().int().nullable(),
    aliases: z.record(z.string(), z.number().int()),
  })
  .meta({ id: 'ModelSummary' });

export const ModelDetail = ModelSummary.extend({
  versions: z.array(
    z.object({ version: z.number().int(), createdAt: isoTimestamp, variants: z.array(modelVariantSchema) }),
  ),
}).meta({ id: 'ModelDetail' });

export const Variant = z
  .object({
    variant: modelVariantSchema,
    sha256: sha256Schema,
    size: z.number().int(),
    manifest: modelManifestSchema,
    signature: signatureSchema,
    metrics: z.record(z.string(), z.unknown()).nullable(),
    quantizationReport: z.record(z.string(), z.unknown()).nullable(),
    createdAt: isoTimestamp,
    artifactUrl: z.string(),
  })
  .meta({ id: 'ModelVariant' });

export const VersionDetail = z
  .object({
    model: z.string(),
    version: z.number().int(),
    createdAt: isoTimestamp,
    lineage: z.record(z.string(), z.unknown()),
    metrics: z.record(z.string(), z.unknown()).nullable(),
    aliases: z.array(z.string()),
    variants: z.array(Variant),
  })
  .meta({ id: 'ModelVersion' });

export const AliasChange = z
  .object({
    model: z.string(),
    alias: z.string(),
    version: z.number().int().nullable(),
    previousVersion: z.number().int().nullable(),
    actor: z.string(),
    at: isoTimestamp,
  })
  .meta({ id: 'AliasChange' });

export const SetAliasBody = z.strictObject({ version: z.number().int().positive() }).meta({ id: 'SetAlias' });

const aliases = z.array(AliasName).max(16);

export const TrainBody = z
  .strictObject({
    /** Default: the bundled MNIST digits. */
    dataset: datasetRefSchema.optional(),
    /** Default: the built-in trainer. An external command needs the admin role: it runs on the cloud host. */
    trainer: trainerSpecSchema.optional(),
    hyperparameters: z.record(z.string(), z.unknown()).optional(),
    parentVersion: z.number().int().positive().optional(),
    /** Default: champion for a model's first version, challenger after. */
    aliases: aliases.optional(),
    description: z.string().max(2000).optional(),
  })
  .meta({ id: 'TrainModel' });

export const ImportBody = z
  .strictObject({
    name: ModelName,
    /** The ONNX file, base64. */
    onnx: z.string().min(4).refine(isBase64, 'onnx must be the model file in base64'),
    classes: z.array(z.string().min(1).max(64)).min(2).max(1000),
    preprocessing: preprocessingSpecSchema,
    outputRoles: z.record(z.string(), outputRoleSchema).optional(),
    /** Images to calibrate int8 on (and to evaluate on, when labelled with the model's classes). */
    calibration: datasetRefSchema,
    aliases: aliases.optional(),
    description: z.string().max(2000).optional(),
  })
  .meta({ id: 'ImportModel' });

export const QuantizeBody = z
  .strictObject({ calibration: datasetRefSchema.optional(), aliases: aliases.optional() })
  .meta({ id: 'QuantizeVersion' });

export const EvaluateBody = z
  .strictObject({ dataset: datasetRefSchema.optional() })
  .meta({ id: 'EvaluateVersion' });

export const JobView = z
  .object({
    id: z.string(),
    kind: z.enum(JOB_KINDS),
    model: z.string(),
    actor: z.string(),
    status: z.enum(JOB_STATUSES),
    phase: z.string(),
    progress: z.number().min(0).max(1),
    detail: z.string().nullable(),
    createdAt: isoTimestamp,
    startedAt: isoTimestamp.nullable(),
    finishedAt: isoTimestamp.nullable(),
    result: z.unknown(),
    error: z.object({ code: z.string(), reason: z.string(), message: z.string() }).nullable(),
  })
  .meta({ id: 'Job' });
export type JobView = z.infer<typeof JobView>;

export const JobAccepted = z
  .object({ job: JobView, links: z.object({ self: z.string(), events: z.string() }) })
  .meta({ id: 'JobAccepted' });
