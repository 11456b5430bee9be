// The model pipeline: dataset → train → export → quantize → evaluate → golden set → compare with
// the champion → register, signed, with lineage. Also the shorter paths that start from a user's
// ONNX file (import) or an existing version (quantize again, evaluate again). Every input is checked
// before the registry is written to, and the registry is written once, at the end: a failure at any
// step leaves it as it was.
import {
  EdgeloopError,
  type ModelVariant,
  modelNameSchema,
  type PreprocessingSpecInput,
  preprocessingSpecSchema,
  type ReferenceProfile,
  referenceProfileSchema,
} from '@edgeloop/shared';
import { z } from 'zod';
import type { Dataset } from '../datasets/index.ts';
import type { LatencySettings } from '../evaluation/index.ts';
import type { QuantizeOptions } from '../quantization/index.ts';
import {
  type ArtifactStore,
  aliasNameSchema,
  type ModelDetail,
  type ModelLineage,
  type ModelRegistry,
  sha256Hex,
  type VersionRecord,
} from '../registry/index.ts';
import { BuiltinTrainer, ExternalCommandTrainer, type Trainer } from '../training/index.ts';
import {
  checkShapeMatches,
  checkTrainable,
  type DatasetInput,
  preprocessingFor,
  reloadableRef,
  resolveDataset,
} from './datasets.ts';
import { stage } from './errors.ts';
import type { JobContext } from './job.ts';
import { codeVersion, lineageOf } from './lineage.ts';
import {
  checkPreprocessing,
  describeOutputs,
  manifestFields,
  type OutputRole,
  readImageModel,
} from './manifest-fields.ts';
import { PhasedProgress } from './progress.ts';
import { referenceProfileStep } from './reference-profile.ts';
import {
  type BuiltVariant,
  type ChampionReport,
  championStep,
  checkClasses,
  currentChampion,
  evaluateStep,
  evaluationMetrics,
  goldenStep,
  quantizeStep,
} from './steps.ts';

/** Which trainer runs: the built-in worker-thread CNN, or any command honouring the trainer contract. */
export const trainerSpecSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('builtin') }),
  z.strictObject({
    kind: z.literal('external-command'),
    /** Program and arguments; `{dataset}`, `{out}`, `{hyperparameters}` are substituted. */
    command: z.array(z.string().min(1).max(4096)).min(1).max(64),
  }),
]);
export type TrainerSpec = z.infer<typeof trainerSpecSchema>;

export interface ModelPipelineOptions {
  registry: ModelRegistry;
  store: ArtifactStore;
  /** Latency measurement of evaluations (fewer samples in tests). */
  latency?: Partial<LatencySettings>;
  /** Settings passed to the quantizer (its own latency search, calibration size). */
  quantize?: Omit<QuantizeOptions, 'onProgress'>;
  /** Scratch space of external trainers; the OS temp dir by default. */
  workDir?: string;
}

export interface TrainRequest {
  model: string;
  dataset: DatasetInput;
  trainer?: TrainerSpec | Trainer;
  hyperparameters?: Record<string, unknown>;
  parentVersion?: number;
  /** Aliases for the new version; default `champion` for a model's first version, else `challenger`. */
  aliases?: string[];
  description?: string;
  actor?: string;
}

export interface ImportRequest {
  model: string;
  /** The ONNX file. */
  bytes: Uint8Array;
  classes: string[];
  preprocessing: PreprocessingSpecInput;
  /** Roles of outputs whose names do not say (`logits`, `probabilities`, `embedding`). */
  outputRoles?: Record<string, OutputRole>;
  /** Images to calibrate int8 on; when labelled with the same classes, its test split evaluates. */
  calibration: DatasetInput;
  aliases?: string[];
  description?: string;
  actor?: string;
}

/** What a pipeline operation reports when it registered a version. */
export interface RegisteredOutcome {
  model: string;
  version: number;
  aliases: string[];
  variants: { variant: ModelVariant; sha256: string; size: number; accuracy: number | null }[];
  champion: ChampionReport;
}

export interface EvaluationOutcome {
  model: string;
  version: number;
  dataset: { name: string; version: string };
  variants: Partial<Record<ModelVariant, ReturnType<typeof evaluationMetrics>>>;
  champion: ChampionReport;
}

const TRAIN_PHASES = [
  ['dataset', 3],
  ['training', 60],
  ['quantizing', 17],
  ['evaluating', 12],
  ['golden', 2],
  ['champion', 4],
  ['registering', 2],
] as const;
const IMPORT_PHASES = [
  ['validating', 2],
  ['dataset', 5],
  ['quantizing', 50],
  ['evaluating', 25],
  ['golden', 5],
  ['champion', 10],
  ['registering', 3],
] as const;
const EVALUATE_PHASES = [
  ['dataset', 10],
  ['evaluating', 70],
  ['champion', 20],
] as const;

/** A context for calls outside a job (tests, scripts): never aborted, progress ignored. */
export function detachedContext(): JobContext {
  return { signal: new AbortController().signal, progress: () => {} };
}

function checkAborted(signal: AbortSignal): void {
  if (signal.aborted)
    throw new EdgeloopError('UNAVAILABLE', 'cancelled', { details: { reason: 'CANCELLED' } });
}

function parseName(model: string): string {
  const parsed = modelNameSchema.safeParse(model);
  if (!parsed.success)
    throw new EdgeloopError(
      'VALIDATION_FAILED',
      `model name: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
    );
  return parsed.data;
}

function parseAliases(aliases: string[] | undefined): string[] | undefined {
  if (aliases === undefined) return undefined;
  for (const alias of aliases) {
    const parsed = aliasNameSchema.safeParse(alias);
    if (!parsed.success)
      throw new EdgeloopError('VALIDATION_FAILED', `alias "${alias}": ${parsed.error.issues[0]?.message}`);
  }
  return aliases;
}

export class ModelPipeline {
  readonly #registry: ModelRegistry;
  readonly #store: ArtifactStore;
  readonly #latency: Partial<LatencySettings>;
  readonly #quantize: Omit<QuantizeOptions, 'onProgress'>;
  readonly #workDir: string | undefined;

  constructor(options: ModelPipelineOptions) {
    this.#registry = options.registry;
    this.#store = options.store;
    this.#latency = options.latency ?? {};
    this.#quantize = options.quantize ?? {};
    this.#workDir = options.workDir;
  }

  /**
   * Trains a new version of `model` and registers it with fp32 and int8 variants.
   *
   * @example
   * const outcome = await pipeline.train({ model: 'digits', dataset: { kind: 'mnist' }, hyperparameters: { epochs: 2 } }, detachedContext());
   */
  async train(request: TrainRequest, context: JobContext): Promise<RegisteredOutcome> {
    const progress = new PhasedProgress(context.progress, TRAIN_PHASES);
    const name = parseName(request.model);
    const aliases = parseAliases(request.aliases);
    const trainer = this.#trainerFor(request.trainer);

    progress.phase('dataset', 'loading');
    const dataset = await resolveDataset(request.dataset);
    checkTrainable(dataset);
    const existing = await this.#existingModel(name);
    checkClasses(existing?.classes, dataset.classes, name);
    if (request.parentVersion !== undefined) await this.#registry.getVersion(name, request.parentVersion);
    checkAborted(context.signal);

    const training = progress.phase('training', `${trainer.kind} trainer`);
    const trained = await stage('training', () =>
      trainer.train({
        dataset,
        ...(request.hyperparameters === undefined ? {} : { hyperparameters: request.hyperparameters }),
        signal: context.signal,
        onProgress: (p) => {
          const epochs = Math.max(1, p.epochs);
          const within = p.batches > 0 ? p.batch / p.batches : 0;
          const fraction =
            p.phase === 'exporting' || p.phase === 'done' ? 1 : (Math.max(0, p.epoch - 1) + within) / epochs;
          const loss = p.loss === null ? '' : `, loss ${p.loss.toFixed(3)}`;
          training(fraction, `${p.phase} epoch ${p.epoch}/${p.epochs}, batch ${p.batch}/${p.batches}${loss}`);
        },
      }),
    );
    checkAborted(context.signal);
    const { model, input } = await readImageModel(trained.model, 'trained model');
    const outputs = describeOutputs(model, dataset.classes.length);
    const fp32: BuiltVariant = { variant: 'fp32', bytes: trained.model, sessionOptions: {} };

    const int8 = await quantizeStep(fp32.bytes, dataset, this.#quantize, progress.phase('quantizing'));
    checkAborted(context.signal);
    const variants = [fp32, int8];
    const evaluations = await evaluateStep(variants, dataset, this.#latency, progress.phase('evaluating'));
    progress.phase('golden');
    const golden = await goldenStep({ variants, input, outputs, dataset });
    const champion = await championStep({
      champion: existing ? await currentChampion(this.#registry, name) : undefined,
      store: this.#store,
      variants,
      dataset,
      latency: this.#latency,
      report: progress.phase('champion'),
    });
    checkAborted(context.signal);

    progress.phase('registering');
    const preprocessing = preprocessingFor(dataset, input);
    const referenceProfile = await referenceProfileStep({
      fp32,
      input,
      outputs,
      dataset,
      classes: dataset.classes.length,
      preprocessing,
    });
    const lineage = await lineageOf({
      dataset,
      trainer: trainer.kind,
      hyperparameters: trained.hyperparameters,
      parentVersion: request.parentVersion,
    });
    return this.#register({
      name,
      existing,
      classes: dataset.classes,
      description: request.description ?? `trained on ${dataset.name}`,
      actor: request.actor ?? 'system',
      aliases: aliases ?? (champion.championVersion === null ? ['champion'] : ['challenger']),
      lineage,
      referenceProfile,
      metrics: {
        training: trained.metrics,
        trainingMs: trained.durationMs,
        dataset: { name: dataset.name, version: dataset.version, test: dataset.test.count },
        goldenMaxVariantDifference: golden?.maxVariantDifference ?? null,
      },
      variants: variants.map((v, i) => ({
        built: v,
        fields: manifestFields({
          input,
          outputs,
          classes: dataset.classes,
          preprocessing,
          sessionOptions: v.sessionOptions,
          ...(golden ? { golden: golden.sets[i] } : {}),
        }),
        evaluation: evaluations.get(v.variant),
      })),
      champion,
    });
  }

  /** Registers a user's ONNX model: validated, quantized on the calibration data, evaluated when labelled. */
  async importModel(request: ImportRequest, context: JobContext): Promise<RegisteredOutcome> {
    const progress = new PhasedProgress(context.progress, IMPORT_PHASES);
    progress.phase('validating');
    const { name, aliases, input, preprocessing, classes, outputs, existing } =
      await this.validateImport(request);

    progress.phase('dataset', 'loading calibration data');
    const dataset = await resolveDataset(request.calibration, 'calibration data');
    checkShapeMatches(dataset, input, 'calibration data', 'QUANT_CALIBRATION_SHAPE');
    // Labels only mean something when they name the model's classes, in its order.
    const labelled = JSON.stringify(dataset.classes) === JSON.stringify(classes);
    checkAborted(context.signal);

    const fp32: BuiltVariant = { variant: 'fp32', bytes: request.bytes, sessionOptions: {} };
    const int8 = await quantizeStep(fp32.bytes, dataset, this.#quantize, progress.phase('quantizing'));
    const variants = [fp32, int8];
    checkAborted(context.signal);
    const evaluations = labelled
      ? await evaluateStep(variants, dataset, this.#latency, progress.phase('evaluating'))
      : new Map();
    progress.phase('golden');
    const golden = await goldenStep({ variants, input, outputs, dataset });
    const champion = labelled
      ? await championStep({
          champion: existing ? await currentChampion(this.#registry, name) : undefined,
          store: this.#store,
          variants,
          dataset,
          latency: this.#latency,
          report: progress.phase('champion'),
        })
      : {
          championVersion: null,
          variants: {},
          skipped: 'calibration data is not labelled with the model classes',
        };
    checkAborted(context.signal);

    progress.phase('registering');
    const referenceProfile = await referenceProfileStep({
      fp32,
      input,
      outputs,
      dataset,
      classes: classes.length,
      preprocessing,
    });
    const lineage: ModelLineage = {
      ...(await lineageOf({
        dataset,
        trainer: 'import',
        hyperparameters: { importedSha256: sha256Hex(request.bytes) },
      })),
    };
    return this.#register({
      name,
      existing,
      classes: classes,
      description: request.description ?? 'imported ONNX model',
      actor: request.actor ?? 'system',
      aliases: aliases ?? (champion.championVersion === null && !existing ? ['champion'] : ['challenger']),
      lineage,
      referenceProfile,
      metrics: {
        calibration: { name: dataset.name, version: dataset.version, labelled },
        goldenMaxVariantDifference: golden?.maxVariantDifference ?? null,
      },
      variants: variants.map((v, i) => ({
        built: v,
        fields: manifestFields({
          input,
          outputs,
          classes: classes,
          preprocessing,
          sessionOptions: v.sessionOptions,
          ...(golden ? { golden: golden.sets[i] } : {}),
        }),
        evaluation: evaluations.get(v.variant),
      })),
      champion,
    });
  }

  /**
   * The checks of an import that need no calibration data: the file is ONNX with one image input, the
   * preprocessing produces that input, the class names match the score output and the model. Cheap,
   * so the API runs them before it starts a job and a bad file is refused in the response itself.
   */
  async validateImport(request: ImportRequest) {
    const name = parseName(request.model);
    const aliases = parseAliases(request.aliases);
    const { model, input } = await readImageModel(request.bytes, 'model file');
    const parsed = preprocessingSpecSchema.safeParse(request.preprocessing);
    if (!parsed.success) {
      throw new EdgeloopError('VALIDATION_FAILED', `preprocessing: ${z.prettifyError(parsed.error)}`, {
        details: parsed.error.issues,
      });
    }
    const preprocessing = parsed.data;
    checkPreprocessing(preprocessing, input);
    const parsedClasses = z.array(z.string().min(1).max(64)).min(2).max(1000).safeParse(request.classes);
    if (!parsedClasses.success)
      throw new EdgeloopError('VALIDATION_FAILED', 'classes: give at least two class names (at most 1000)');
    const classes = parsedClasses.data;
    const outputs = describeOutputs(model, classes.length, request.outputRoles);
    const existing = await this.#existingModel(name);
    checkClasses(existing?.classes, classes, name);

    return { name, aliases, input, preprocessing, classes: classes, outputs, existing };
  }

  /**
   * Quantizes an existing version's fp32 variant again (other calibration data, a newer quantizer)
   * and registers the result as a new version whose parent is that version: versions are immutable.
   */
  async quantizeVersion(
    request: {
      model: string;
      version: number;
      calibration?: DatasetInput;
      aliases?: string[];
      actor?: string;
    },
    context: JobContext,
  ): Promise<RegisteredOutcome> {
    const progress = new PhasedProgress(context.progress, IMPORT_PHASES);
    progress.phase('validating');
    const aliases = parseAliases(request.aliases) ?? [];
    const record = await this.#registry.getVersion(request.model, request.version);
    const fp32Record = record.variants.find((v) => v.variant === 'fp32');
    if (fp32Record === undefined)
      throw new EdgeloopError(
        'VALIDATION_FAILED',
        `${request.model} v${request.version} has no fp32 variant to quantize`,
      );
    const bytes = await this.#store.get(fp32Record.sha256);
    const { input } = await readImageModel(bytes, `${request.model} v${request.version}`);
    progress.phase('dataset', 'loading calibration data');
    const dataset = await this.#datasetFor(record, request.calibration, 'calibration data');
    checkShapeMatches(dataset, input, 'calibration data', 'QUANT_CALIBRATION_SHAPE');
    const labelled = JSON.stringify(dataset.classes) === JSON.stringify(fp32Record.manifest.classes);

    const fp32: BuiltVariant = { variant: 'fp32', bytes, sessionOptions: fp32Record.manifest.sessionOptions };
    const int8 = await quantizeStep(bytes, dataset, this.#quantize, progress.phase('quantizing'));
    const variants = [fp32, int8];
    checkAborted(context.signal);
    const evaluations = labelled
      ? await evaluateStep(variants, dataset, this.#latency, progress.phase('evaluating'))
      : new Map();
    progress.phase('golden');
    const { outputs } = fp32Record.manifest;
    const golden = await goldenStep({ variants, input, outputs, dataset });
    checkAborted(context.signal);
    progress.phase('registering');
    const model = await this.#registry.getModel(request.model);
    return this.#register({
      name: request.model,
      existing: model,
      classes: model.classes,
      description: model.description,
      actor: request.actor ?? 'system',
      aliases,
      lineage: { ...record.lineage, codeVersion: await codeVersion(), parentVersion: request.version },
      // Same fp32 model, same validation outputs: the drift baseline carries over.
      referenceProfile: referenceProfileSchema.safeParse(record.referenceProfile).data,
      metrics: {
        ...(record.metrics ?? {}),
        requantized: { from: request.version, calibration: { name: dataset.name, version: dataset.version } },
        goldenMaxVariantDifference: golden?.maxVariantDifference ?? null,
      },
      variants: variants.map((v, i) => ({
        built: v,
        fields: manifestFields({
          input,
          outputs,
          classes: model.classes,
          preprocessing: fp32Record.manifest.preprocessing,
          sessionOptions: v.sessionOptions,
          ...(golden ? { golden: golden.sets[i] } : {}),
        }),
        evaluation: evaluations.get(v.variant),
      })),
      champion: {
        championVersion: null,
        variants: {},
        skipped: 'not compared: a re-quantization of an existing version',
      },
    });
  }

  /** Evaluates every variant of a version (on its own dataset, or another) and compares it with the champion. */
  async evaluateVersion(
    request: { model: string; version: number; dataset?: DatasetInput },
    context: JobContext,
  ): Promise<EvaluationOutcome> {
    const progress = new PhasedProgress(context.progress, EVALUATE_PHASES);
    progress.phase('dataset', 'loading');
    const record = await this.#registry.getVersion(request.model, request.version);
    const dataset = await this.#datasetFor(record, request.dataset, 'dataset');
    checkClasses(record.variants[0]?.manifest.classes, dataset.classes, request.model);
    const variants: BuiltVariant[] = [];
    for (const v of record.variants) {
      variants.push({
        variant: v.variant,
        bytes: await this.#store.get(v.sha256),
        sessionOptions: v.manifest.sessionOptions,
      });
    }
    const { input } = await readImageModel(variants[0]!.bytes, `${request.model} v${request.version}`);
    checkShapeMatches(dataset, input, 'evaluation data');
    checkAborted(context.signal);
    const evaluations = await evaluateStep(variants, dataset, this.#latency, progress.phase('evaluating'));
    const champion = await currentChampion(this.#registry, request.model);
    const comparison = await championStep({
      champion: champion?.version === request.version ? undefined : champion,
      store: this.#store,
      variants,
      dataset,
      latency: this.#latency,
      report: progress.phase('champion'),
    });
    if (champion?.version === request.version) comparison.skipped = 'this version is the champion';
    return {
      model: request.model,
      version: request.version,
      dataset: { name: dataset.name, version: dataset.version },
      variants: Object.fromEntries([...evaluations].map(([k, e]) => [k, evaluationMetrics(e)])),
      champion: comparison,
    };
  }

  #trainerFor(spec: TrainerSpec | Trainer | undefined): Trainer {
    if (spec === undefined) return new BuiltinTrainer();
    if ('train' in spec) return spec;
    const parsed = trainerSpecSchema.safeParse(spec);
    if (!parsed.success)
      throw new EdgeloopError('VALIDATION_FAILED', `trainer: ${z.prettifyError(parsed.error)}`);
    if (parsed.data.kind === 'builtin') return new BuiltinTrainer();
    return new ExternalCommandTrainer({
      command: parsed.data.command,
      ...(this.#workDir === undefined ? {} : { workDir: this.#workDir }),
    });
  }

  async #existingModel(name: string): Promise<ModelDetail | undefined> {
    try {
      return await this.#registry.getModel(name);
    } catch (error) {
      if (error instanceof EdgeloopError && error.code === 'NOT_FOUND') return undefined;
      throw error;
    }
  }

  /** The dataset a request names, else the one the version was trained on, when it can be loaded again. */
  async #datasetFor(record: VersionRecord, input: DatasetInput | undefined, what: string): Promise<Dataset> {
    if (input !== undefined) return resolveDataset(input, what);
    const ref = reloadableRef(record.lineage.dataset?.source);
    if (ref === undefined) {
      throw new EdgeloopError(
        'VALIDATION_FAILED',
        `${what}: ${record.model} v${record.version} was not trained on a dataset that can be loaded again; name one`,
      );
    }
    return resolveDataset(ref, what);
  }

  async #register(args: {
    name: string;
    existing: ModelDetail | undefined;
    classes: string[];
    description: string;
    actor: string;
    aliases: string[];
    lineage: ModelLineage;
    referenceProfile: ReferenceProfile | undefined;
    metrics: Record<string, unknown>;
    variants: {
      built: BuiltVariant;
      fields: ReturnType<typeof manifestFields>;
      evaluation: Parameters<typeof evaluationMetrics>[0] | undefined;
    }[];
    champion: ChampionReport;
  }): Promise<RegisteredOutcome> {
    if (args.existing === undefined) {
      await this.#registry
        .createModel({
          name: args.name,
          classes: args.classes,
          description: args.description,
          actor: args.actor,
        })
        .catch(async (error: unknown) => {
          // Created meanwhile by another job: fine when it agrees on the classes.
          if (!(error instanceof EdgeloopError && error.code === 'CONFLICT')) throw error;
          checkClasses((await this.#registry.getModel(args.name)).classes, args.classes, args.name);
        });
    }
    const evaluations = Object.fromEntries(
      args.variants.flatMap((v) =>
        v.evaluation ? [[v.built.variant, evaluationMetrics(v.evaluation)]] : [],
      ),
    );
    const version = await this.#registry.registerVersion({
      model: args.name,
      lineage: args.lineage,
      metrics: { ...args.metrics, evaluation: evaluations, champion: args.champion },
      ...(args.referenceProfile ? { referenceProfile: args.referenceProfile } : {}),
      variants: args.variants.map((v) => ({
        variant: v.built.variant,
        bytes: v.built.bytes,
        manifestFields: args.referenceProfile
          ? { ...v.fields, sketchSpec: args.referenceProfile.spec }
          : v.fields,
        ...(v.evaluation ? { metrics: { ...evaluationMetrics(v.evaluation) } } : {}),
        ...(v.built.quantizationReport
          ? { quantizationReport: v.built.quantizationReport as unknown as Record<string, unknown> }
          : {}),
      })),
      aliases: args.aliases,
      actor: args.actor,
    });
    return {
      model: version.model,
      version: version.version,
      aliases: version.aliases,
      variants: version.variants.map((v) => ({
        variant: v.variant,
        sha256: v.sha256,
        size: v.size,
        accuracy: args.variants.find((b) => b.built.variant === v.variant)?.evaluation?.accuracy ?? null,
      })),
      champion: args.champion,
    };
  }
}
