// The last step of every operation that makes a version: create the model when it is new, then
// register the version (variants, manifests, metrics, lineage, reference profile) in one write,
// and report what was registered.
import { EdgeloopError, type ModelVariant, type ReferenceProfile } from '@edgeloop/shared';
import type { ModelEvaluation } from '../evaluation/index.ts';
import type { ModelDetail, ModelLineage, ModelRegistry } from '../registry/index.ts';
import { manifestFields } from './manifest-fields.ts';
import type { PipelineServices } from './pipeline-services.ts';
import {
  type BuiltVariant,
  type ChampionReport,
  checkClasses,
  evaluationMetrics,
  type goldenStep,
} from './steps.ts';

/** What a pipeline operation reports when it registered a version. */
export interface RegisteredOutcome {
  model: string;
  version: number;
  aliases: string[];
  variants: { variant: ModelVariant; sha256: string; size: number; accuracy: number | null }[];
  champion: ChampionReport;
}

/** A variant as it is registered: the built model, its manifest fields, its evaluation when there is one. */
export interface RegistrationVariant {
  built: BuiltVariant;
  fields: ReturnType<typeof manifestFields>;
  evaluation: Parameters<typeof evaluationMetrics>[0] | undefined;
}

/** The model `name` as registered, or undefined when it has no version yet. */
export async function existingModel(registry: ModelRegistry, name: string): Promise<ModelDetail | undefined> {
  try {
    return await registry.getModel(name);
  } catch (error) {
    if (error instanceof EdgeloopError && error.code === 'NOT_FOUND') return undefined;
    throw error;
  }
}

/**
 * Each built variant with its manifest fields (the ones all variants share, its own session options
 * and golden set) and its evaluation, if it was evaluated.
 */
export function registrationVariants(args: {
  variants: BuiltVariant[];
  shared: Omit<Parameters<typeof manifestFields>[0], 'sessionOptions' | 'golden'>;
  golden: Awaited<ReturnType<typeof goldenStep>>;
  evaluations: ReadonlyMap<ModelVariant, ModelEvaluation>;
}): RegistrationVariant[] {
  const { shared, golden, evaluations } = args;
  return args.variants.map((v, i) => ({
    built: v,
    fields: manifestFields({
      ...shared,
      sessionOptions: v.sessionOptions,
      ...(golden ? { golden: golden.sets[i] } : {}),
    }),
    evaluation: evaluations.get(v.variant),
  }));
}

export async function registerVersion(
  { registry }: PipelineServices,
  args: {
    name: string;
    existing: ModelDetail | undefined;
    classes: string[];
    description: string;
    actor: string;
    aliases: string[];
    lineage: ModelLineage;
    referenceProfile: ReferenceProfile | undefined;
    metrics: Record<string, unknown>;
    variants: RegistrationVariant[];
    champion: ChampionReport;
  },
): Promise<RegisteredOutcome> {
  if (args.existing === undefined) {
    await registry
      .createModel({
        name: args.name,
        classes: args.classes,
        description: args.description,
        actor: args.actor,
      })
      .catch(async (error: unknown) => {
        // Created meanwhile by another job: fine when it agrees on the classes.
        if (!(error instanceof EdgeloopError && error.code === 'CONFLICT')) throw error;
        checkClasses((await registry.getModel(args.name)).classes, args.classes, args.name);
      });
  }
  const evaluations = Object.fromEntries(
    args.variants.flatMap((v) => (v.evaluation ? [[v.built.variant, evaluationMetrics(v.evaluation)]] : [])),
  );
  const version = await registry.registerVersion({
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
