// The steps from an fp32 model to a candidate version, shared by training, import and quantizing a
// version again: quantize to int8, evaluate both variants when the data is labelled with the model's
// classes, record golden sets; and hold the candidate against the model's current champion.
import type { ModelVariant, OutputSpec } from '@edgeloop/shared';
import type { Dataset } from '../datasets/index.ts';
import type { ModelEvaluation } from '../evaluation/index.ts';
import type { ImageInput } from '../onnx/index.ts';
import type { ModelDetail } from '../registry/index.ts';
import type { JobContext } from './job.ts';
import type { PipelineServices } from './pipeline-services.ts';
import type { PhasedProgress } from './progress.ts';
import { checkAborted } from './request-checks.ts';
import {
  type BuiltVariant,
  type ChampionReport,
  championStep,
  currentChampion,
  evaluateStep,
  goldenStep,
  quantizeStep,
} from './steps.ts';

/**
 * fp32 and its int8 quantization on `dataset`, evaluated on its test split when `labelled` (else no
 * evaluations), with golden sets. Runs the `quantizing`, `evaluating` and `golden` phases.
 */
export async function buildVariants(
  services: PipelineServices,
  candidate: {
    fp32: BuiltVariant;
    dataset: Dataset;
    input: ImageInput;
    outputs: OutputSpec[];
    labelled: boolean;
  },
  progress: PhasedProgress,
  { signal }: Pick<JobContext, 'signal'>,
) {
  const { fp32, dataset, input, outputs } = candidate;
  const int8 = await quantizeStep(fp32.bytes, dataset, services.quantize, progress.phase('quantizing'));
  const variants = [fp32, int8];
  checkAborted(signal);
  const evaluations: Map<ModelVariant, ModelEvaluation> = candidate.labelled
    ? await evaluateStep(variants, dataset, services.latency, progress.phase('evaluating'))
    : new Map();
  progress.phase('golden');
  const golden = await goldenStep({ variants, input, outputs, dataset });
  return { variants, evaluations, golden };
}

/** Compares the candidate's variants with the current champion of model `name`, if it exists yet. */
export async function compareWithCurrentChampion(
  services: PipelineServices,
  args: {
    name: string;
    existing: ModelDetail | undefined;
    variants: BuiltVariant[];
    dataset: Dataset;
    progress: PhasedProgress;
  },
): Promise<ChampionReport> {
  return championStep({
    champion: args.existing ? await currentChampion(services.registry, args.name) : undefined,
    store: services.store,
    variants: args.variants,
    dataset: args.dataset,
    latency: services.latency,
    report: args.progress.phase('champion'),
  });
}
