// The manifest fields a variant is registered with, read from the ONNX model itself: the image
// input, each output with its role (where devices find probabilities and the embedding), and the
// preprocessing and session options that belong to it.
import { EdgeloopError, type OutputSpec, type PreprocessingSpec, type TensorSpec } from '@edgeloop/shared';
import { z } from 'zod';
import {
  DataType,
  declaredDims,
  decodeModel,
  detectImageInput,
  type ImageInput,
  type ModelProto,
} from '../onnx/index.ts';
import type { ManifestFields } from '../registry/index.ts';
import { stage } from './errors.ts';

export const outputRoleSchema = z.enum(['logits', 'probabilities', 'embedding', 'other']);
export type OutputRole = z.infer<typeof outputRoleSchema>;

/** Decodes a model and finds its image input; a file that is not ONNX or reads no image fails here. */
export async function readImageModel(
  bytes: Uint8Array,
  what = 'model',
): Promise<{ model: ModelProto; input: ImageInput }> {
  return stage(what, () => {
    const model = decodeModel(bytes);
    return { model, input: detectImageInput(model) };
  });
}

function dims(values: (number | null)[] | undefined, fallback: number): TensorSpec['shape'] {
  if (values === undefined || values.length === 0) return ['batch', fallback];
  return values.map((d, i) => (d === null ? (i === 0 ? 'batch' : `d${i}`) : d));
}

/** The role an output plays, from its name: the default model contract names them so. */
function roleByName(name: string): OutputRole | undefined {
  const lower = name.toLowerCase();
  if (/prob|softmax/.test(lower)) return 'probabilities';
  if (/logit|score/.test(lower)) return 'logits';
  if (/embed|feature/.test(lower)) return 'embedding';
  return undefined;
}

/**
 * Every graph output with a role. Names decide first (`logits`, `probabilities`, `embedding` by the
 * model contract); `roles` overrides them; an unnamed output as wide as the class list becomes the
 * logits when nothing else claims them. A model with no class-score output is refused: devices
 * could not tell what it predicts.
 */
export function describeOutputs(
  model: ModelProto,
  classes: number,
  roles: Record<string, OutputRole> = {},
): OutputSpec[] {
  const outputs = (model.graph?.output ?? []).map((o) => {
    const name = o.name ?? '';
    const shape = dims(declaredDims(o), classes);
    const elem = o.type?.tensorType?.elemType;
    const dtype: TensorSpec['dtype'] = elem === DataType.INT64 ? 'int64' : 'float32';
    return { name, shape, dtype, role: roles[name] ?? roleByName(name) ?? 'other' } as OutputSpec;
  });
  for (const name of Object.keys(roles)) {
    if (!outputs.some((o) => o.name === name)) {
      throw new EdgeloopError(
        'VALIDATION_FAILED',
        `outputRoles names '${name}', which is not an output of the model (it has: ${outputs.map((o) => o.name).join(', ')})`,
      );
    }
  }
  const scores = (o: OutputSpec) => o.role === 'logits' || o.role === 'probabilities';
  if (!outputs.some(scores)) {
    const wide = outputs.find((o) => o.shape.at(-1) === classes);
    if (wide) wide.role = 'logits';
  }
  const scoring = outputs.find(scores);
  if (scoring === undefined) {
    throw new EdgeloopError(
      'MODEL_INVALID',
      `the model has no output of ${classes} class scores (outputs: ${outputs.map((o) => `${o.name} ${JSON.stringify(o.shape)}`).join(', ')})`,
      { details: { reason: 'MODEL_NO_CLASS_OUTPUT' } },
    );
  }
  const width = scoring.shape.at(-1);
  if (typeof width === 'number' && width !== classes) {
    throw new EdgeloopError(
      'VALIDATION_FAILED',
      `the model's ${scoring.role} output '${scoring.name}' has ${width} classes but ${classes} class names were given`,
      { details: { reason: 'CLASS_COUNT_MISMATCH' } },
    );
  }
  return outputs;
}

/** The input as the manifest states it: a dynamic batch named `batch`, the rest as declared. */
export function describeInput(input: ImageInput): TensorSpec {
  const { channels: c, height: h, width: w } = input;
  const batch = input.batch ?? 'batch';
  return {
    name: input.name,
    shape: input.layout === 'NCHW' ? [batch, c, h, w] : [batch, h, w, c],
    dtype: 'float32',
  };
}

/** Refuses preprocessing that would not produce the model's input tensor. */
export function checkPreprocessing(spec: PreprocessingSpec, input: ImageInput): void {
  const mismatches: string[] = [];
  if (spec.layout !== input.layout) mismatches.push(`layout ${spec.layout} vs ${input.layout}`);
  if (spec.channels !== input.channels) mismatches.push(`channels ${spec.channels} vs ${input.channels}`);
  if (spec.height !== input.height) mismatches.push(`height ${spec.height} vs ${input.height}`);
  if (spec.width !== input.width) mismatches.push(`width ${spec.width} vs ${input.width}`);
  if (mismatches.length > 0) {
    throw new EdgeloopError(
      'VALIDATION_FAILED',
      `the preprocessing spec does not match model input '${input.name}': ${mismatches.join(', ')}`,
      { details: { reason: 'PREPROCESSING_MISMATCH' } },
    );
  }
}

export function manifestFields(args: {
  input: ImageInput;
  outputs: OutputSpec[];
  classes: string[];
  preprocessing: PreprocessingSpec;
  sessionOptions?: Record<string, string>;
  golden?: ManifestFields['golden'];
}): ManifestFields {
  return {
    input: describeInput(args.input),
    outputs: args.outputs,
    classes: args.classes,
    preprocessing: args.preprocessing,
    sessionOptions: args.sessionOptions ?? {},
    ...(args.golden === undefined ? {} : { golden: args.golden }),
  };
}
