import * as z from 'zod';
import { modelVariantSchema } from './ids.ts';
import { describeIssues, formatIssues } from './payload.ts';

const MiB = 1024 * 1024;

/** onnxruntime execution providers, named as onnxruntime names them (lowercase). */
export const executionProviderSchema = z.enum([
  'cuda',
  'tensorrt',
  'coreml',
  'dml',
  'xnnpack',
  'cpu',
  'webgpu',
  'webnn',
  'wasm',
]);
export type ExecutionProvider = z.infer<typeof executionProviderSchema>;

/**
 * A device class (firmware-configs/<id>.yaml). It tells the agent how to run models and the rollout
 * engine which variant a device gets. `profileVersion` lets the schema evolve without guessing.
 */
export const deviceProfileSchema = z
  .object({
    profileVersion: z.literal(1),
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'id must match [a-z0-9][a-z0-9-]{0,63}'),
    name: z.string().min(1).max(100),
    description: z.string().max(500).default(''),
    /** `wasm` for browsers and web views (web SDK). */
    arch: z.enum(['arm64', 'armv7', 'x64', 'wasm']),
    /** In order of preference; the agent falls back along the list. */
    executionProviders: z.array(executionProviderSchema).min(1).max(6),
    threads: z.object({
      intraOp: z.number().int().min(1).max(64),
      interOp: z.number().int().min(1).max(16).default(1),
    }),
    preferredVariant: modelVariantSchema,
    /** Largest artifact this class accepts; the rollout engine never sends a bigger one. */
    maxModelBytes: z
      .number()
      .int()
      .min(64 * 1024)
      .max(4096 * MiB),
    /** Memory the agent may use for models and buffers. */
    memoryBudgetBytes: z
      .number()
      .int()
      .min(16 * MiB)
      .max(64 * 1024 * MiB),
    telemetry: z.object({
      windowSeconds: z.number().int().min(5).max(3600),
      /** Byte bound of the on-disk store-and-forward queue; the oldest windows go first when full. */
      queueMaxBytes: z
        .number()
        .int()
        .min(4 * 1024)
        .max(1024 * MiB),
    }),
    sampling: z.object({
      enabled: z.boolean(),
      /** Share of inferences sampled at random for retraining. */
      rate: z.number().min(0).max(1),
      /** Also sample inferences whose confidence is below this. */
      lowConfidenceThreshold: z.number().min(0).max(1),
      maxPerHour: z.number().int().min(0).max(100_000),
    }),
    download: z
      .object({
        chunkSize: z
          .number()
          .int()
          .min(1024)
          .max(1024 * 1024)
          .default(64 * 1024),
      })
      .default({ chunkSize: 64 * 1024 }),
  })
  .strict()
  .refine(
    (p) => p.arch === 'wasm' || !p.executionProviders.some((ep) => ['wasm', 'webgpu', 'webnn'].includes(ep)),
    {
      message: 'browser execution providers (wasm, webgpu, webnn) need arch: wasm',
      path: ['executionProviders'],
    },
  )
  .refine(
    (p) => p.arch !== 'wasm' || p.executionProviders.every((ep) => ['wasm', 'webgpu', 'webnn'].includes(ep)),
    {
      message: 'arch wasm (browser) supports only wasm, webgpu and webnn execution providers',
      path: ['executionProviders'],
    },
  );
export type DeviceProfile = z.output<typeof deviceProfileSchema>;
export type DeviceProfileInput = z.input<typeof deviceProfileSchema>;

export class ProfileError extends Error {
  readonly code = 'VALIDATION_FAILED' as const;
  constructor(
    message: string,
    readonly source: string,
    readonly issues: { path: string; message: string }[],
  ) {
    super(message);
    this.name = 'ProfileError';
  }
}

/**
 * Validates a parsed profile document. `source` (usually the file path) is named in the error,
 * with every offending field: "firmware-configs/pi4.yaml: threads.intraOp: expected number".
 */
export function parseDeviceProfile(document: unknown, source: string): DeviceProfile {
  const parsed = deviceProfileSchema.safeParse(document);
  if (!parsed.success) {
    const issues = describeIssues(parsed.error);
    throw new ProfileError(`${source}: invalid device profile: ${formatIssues(issues)}`, source, issues);
  }
  return parsed.data;
}
