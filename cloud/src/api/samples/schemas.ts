// Request and response bodies of /api/v1/samples. The CLI parses responses with these too.
import { z } from 'zod';
import { isoTimestamp } from '../openapi.ts';

export const SampleIdParam = z.object({
  id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).meta({ example: 42 }),
});

const booleanText = z.enum(['true', 'false']).transform((v) => v === 'true');

export const ListSamplesQuery = z.strictObject({
  model: z.string().min(1).max(64).optional(),
  version: z.coerce.number().int().positive().optional(),
  device: z.string().min(1).max(64).optional(),
  labelled: booleanText.optional(),
  /** Why the device sent it: `low-confidence` are the ones worth an operator's look. */
  reason: z.enum(['random', 'low-confidence']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.coerce
    .number()
    .int()
    .positive()
    .optional()
    .meta({ description: "the previous page's nextBefore" }),
});

export const SampleStatsQuery = z.strictObject({ model: z.string().min(1).max(64).optional() });

export const PreviewQuery = z.strictObject({
  scale: z.coerce
    .number()
    .int()
    .min(1)
    .max(16)
    .default(1)
    .meta({ description: 'nearest-neighbour enlargement' }),
});

export const LabelBody = z
  .strictObject({
    label: z.number().int().nonnegative().max(999).optional(),
    confirm: z.literal(true).optional(),
  })
  .refine((b) => (b.label === undefined) !== (b.confirm === undefined), {
    message: 'give either "label" (a class index, to correct) or "confirm": true (to confirm the prediction)',
  })
  .meta({
    id: 'SampleLabel',
    description: '`{ "label": n }` sets (corrects) the label; `{ "confirm": true }` confirms the prediction',
  });

export const SampleSummary = z
  .object({
    id: z.number().int(),
    device: z.string(),
    sampleId: z.string(),
    model: z.string(),
    version: z.number().int(),
    variant: z.enum(['fp32', 'int8']).nullable(),
    capturedAt: isoTimestamp,
    receivedAt: isoTimestamp,
    reason: z.enum(['random', 'low-confidence']),
    prediction: z.number().int(),
    confidence: z.number(),
    label: z.number().int().nullable(),
    labelSource: z.enum(['device', 'operator']).nullable(),
  })
  .meta({ id: 'SampleSummary' });

export const SampleList = z
  .object({ items: z.array(SampleSummary), nextBefore: z.number().int().nullable() })
  .meta({ id: 'SampleList' });

export const SampleDetail = SampleSummary.extend({
  windowSeq: z.number().int().nullable(),
  labelledBy: z.string().nullable(),
  labelledAt: isoTimestamp.nullable(),
  /** The model version's class names, when the registry knows the version. */
  classes: z.array(z.string()).nullable(),
  tensor: z.object({
    shape: z.array(z.number().int()),
    dtype: z.literal('float32'),
    /** float32 little-endian, base64 */
    data: z.string(),
  }),
}).meta({ id: 'SampleDetail' });

export const SampleStats = z
  .object({
    versions: z.array(
      z.object({
        model: z.string(),
        version: z.number().int(),
        total: z.number().int(),
        labelled: z.number().int(),
        unlabelled: z.number().int(),
        labelledBy: z.object({ device: z.number().int(), operator: z.number().int() }),
      }),
    ),
  })
  .meta({ id: 'SampleStats' });
