// HTTP shapes of the retraining routes. The policy body is the retraining module's own schema (one
// definition for API, CLI and orchestrator); a run is shown as stored, with its progress, evaluation
// and lineage as the orchestrator wrote them.
import { modelNameSchema } from '@edgeloop/shared';
import * as z from 'zod';
import { RUN_STATUSES, retrainPolicySchema } from '../../retraining/index.ts';
import { isoTimestamp } from '../openapi.ts';

export const RunId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'run id is 1-64 of [A-Za-z0-9_-]')
  .meta({ example: 'rt-3f9a0c12be45' });

export const RetrainPolicyBody = retrainPolicySchema.meta({ id: 'RetrainPolicyInput' });

export const RetrainPolicyView = z
  .object({
    model: z.string(),
    /** False: no policy was ever set, these are the defaults. */
    stored: z.boolean(),
    policy: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'RetrainPolicy' });

export const StartRunBody = z.strictObject({ model: modelNameSchema }).meta({ id: 'StartRetrainRun' });

export const ListRunsQuery = z.strictObject({
  model: modelNameSchema.optional(),
  status: z.enum(RUN_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

export const RetrainRunView = z
  .object({
    id: z.string(),
    model: z.string(),
    status: z.enum(RUN_STATUSES),
    trigger: z.enum(['drift', 'manual']),
    triggerDetail: z.record(z.string(), z.unknown()),
    championVersion: z.number().int().nullable(),
    challengerVersion: z.number().int().nullable(),
    rolloutId: z.string().nullable(),
    progress: z.object({
      stage: z.string(),
      fraction: z.number(),
      message: z.string(),
      jobId: z.string().optional(),
    }),
    /** Champion and challenger accuracy per variant on the original test set and the edge holdout, and each gate. */
    evaluation: z.record(z.string(), z.unknown()).nullable(),
    /** Base dataset, merged dataset, samples: devices, windows, counts, skipped rows. */
    lineage: z.record(z.string(), z.unknown()),
    reason: z.string(),
    createdBy: z.string(),
    createdAt: isoTimestamp,
    updatedAt: isoTimestamp,
    finishedAt: isoTimestamp.nullable(),
  })
  .meta({ id: 'RetrainRun' });
