// What the update feature must remember across restarts: the last desired state it accepted (so a
// restart resumes an update even before the broker is reachable, and knows which generations are
// stale) and the last failure (so a model that failed its golden check is not retried forever).
import { readFile } from 'node:fs/promises';
import { type DesiredState, desiredStatePayload, type ErrorCode, errorCodeSchema } from '@edgeloop/shared';
import { z } from 'zod';
import { isNotFound, SerialQueue, writeFileAtomic } from '../durable-fs.ts';

export interface UpdateFailure {
  generation: number;
  sha256: string;
  code: ErrorCode;
  message: string;
  attempts: number;
}

const fileSchema = z.object({
  v: z.literal(1),
  desired: z.unknown().nullable(),
  failure: z
    .object({
      generation: z.number().int().nonnegative(),
      sha256: z.string(),
      code: errorCodeSchema,
      message: z.string(),
      attempts: z.number().int().positive(),
    })
    .nullable(),
});

export class UpdateStore {
  readonly #queue = new SerialQueue();
  #desired: DesiredState | null = null;
  #failure: UpdateFailure | null = null;

  constructor(readonly path: string) {}

  get desired(): DesiredState | null {
    return this.#desired;
  }

  get failure(): UpdateFailure | null {
    return this.#failure;
  }

  /** Loads the file; a damaged one is forgotten (the retained desired state brings it back). */
  load(): Promise<void> {
    return this.#queue.run(async () => {
      let text: string;
      try {
        text = await readFile(this.path, 'utf8');
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        return;
      }
      const parsed = fileSchema.safeParse(json);
      if (!parsed.success) return;
      const desired = parsed.data.desired === null ? null : desiredStatePayload.check(parsed.data.desired);
      this.#desired = desired?.ok ? desired.value : null;
      this.#failure = parsed.data.failure;
    });
  }

  saveDesired(desired: DesiredState): Promise<void> {
    return this.#write(() => ({ desired, failure: this.#failure }));
  }

  saveFailure(failure: UpdateFailure | null): Promise<void> {
    return this.#write(() => ({ desired: this.#desired, failure }));
  }

  /** `next` runs inside the queue, so it sees every earlier write. */
  #write(next: () => { desired: DesiredState | null; failure: UpdateFailure | null }): Promise<void> {
    return this.#queue.run(async () => {
      const { desired, failure } = next();
      await writeFileAtomic(this.path, JSON.stringify({ v: 1, desired, failure }));
      this.#desired = desired;
      this.#failure = failure;
    });
  }
}
