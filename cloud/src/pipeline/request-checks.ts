// Checks every pipeline operation makes of what it is asked: the model name and aliases are valid
// before anything runs, and the job has not been cancelled between steps.
import { EdgeloopError, modelNameSchema } from '@edgeloop/shared';
import { aliasNameSchema } from '../registry/index.ts';

export function checkAborted(signal: AbortSignal): void {
  if (signal.aborted)
    throw new EdgeloopError('UNAVAILABLE', 'cancelled', { details: { reason: 'CANCELLED' } });
}

export function parseName(model: string): string {
  const parsed = modelNameSchema.safeParse(model);
  if (!parsed.success)
    throw new EdgeloopError(
      'VALIDATION_FAILED',
      `model name: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
    );
  return parsed.data;
}

export function parseAliases(aliases: string[] | undefined): string[] | undefined {
  if (aliases === undefined) return undefined;
  for (const alias of aliases) {
    const parsed = aliasNameSchema.safeParse(alias);
    if (!parsed.success)
      throw new EdgeloopError('VALIDATION_FAILED', `alias "${alias}": ${parsed.error.issues[0]?.message}`);
  }
  return aliases;
}
