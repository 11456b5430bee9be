// Two model slots on disk (A/B) and one state file that says which is active. Every transition is a
// single atomic rewrite of `slots.json`, so power loss at any point leaves either the old or the new
// state. A slot directory is built under a temp name and renamed into place: it is complete or absent.
//
// Crash-loop protection: every agent start increments `bootAttempts`; the controller calls
// `markHealthy()` once the active model has served for a while. A start that finds `maxBootAttempts`
// unconfirmed boots already behind it rolls back to the previous slot (CRASH_LOOP).
import { copyFile, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { EdgeloopError, type ErrorCode, type SignedManifest, signedManifestSchema } from '@edgeloop/shared';
import { z } from 'zod';
import {
  diskError,
  fsyncDir,
  isNotFound,
  removeStaleTempFiles,
  SerialQueue,
  writeFileAtomic,
} from './durable-fs.ts';

export type SlotName = 'a' | 'b';

const slotNameSchema = z.enum(['a', 'b']);
const slotStateSchema = z.object({
  v: z.literal(1),
  active: slotNameSchema.nullable(),
  previous: slotNameSchema.nullable(),
  /** The active model has run healthily since activation. */
  confirmed: z.boolean(),
  bootAttempts: z.number().int().nonnegative(),
  lastRollback: z
    .object({ sha256: z.string().nullable(), reason: z.string(), at: z.number().int() })
    .nullable(),
});
export type SlotState = z.infer<typeof slotStateSchema>;

const EMPTY_STATE: SlotState = {
  v: 1,
  active: null,
  previous: null,
  confirmed: false,
  bootAttempts: 0,
  lastRollback: null,
};

export interface SlotContents {
  slot: SlotName;
  modelPath: string;
  signed: SignedManifest;
}

export interface BootDecision {
  /** The slot to load now (null: no model installed yet). */
  active: SlotContents | null;
  previous: SlotContents | null;
  /** Set when this start rolled back: why, and from which artifact. */
  rolledBack: { code: ErrorCode; sha256: string | null; message: string } | null;
  /** slots.json was unreadable (outside damage): the agent starts with no model and re-converges. */
  stateRecovered: boolean;
}

export interface ModelSlotsOptions {
  /** Unconfirmed boots tolerated before rolling back. */
  maxBootAttempts?: number;
  now?: () => number;
  /**
   * Test seam: called after each durable step of a transition ("stage:slot-written",
   * "activate:state-written", ...). Throwing from it simulates power loss at that point.
   */
  afterStep?: (step: string) => void;
}

const MODEL_FILE = 'model.onnx';
const MANIFEST_FILE = 'manifest.json';

export class ModelSlots {
  readonly #statePath: string;
  readonly #slotsDir: string;
  readonly #maxBootAttempts: number;
  readonly #queue = new SerialQueue();
  #state: SlotState = EMPTY_STATE;
  #stateRecovered = false;

  constructor(
    readonly dir: string,
    private readonly options: ModelSlotsOptions = {},
  ) {
    this.#statePath = join(dir, 'slots.json');
    this.#slotsDir = join(dir, 'slots');
    this.#maxBootAttempts = options.maxBootAttempts ?? 3;
    if (!Number.isInteger(this.#maxBootAttempts) || this.#maxBootAttempts < 1) {
      throw new EdgeloopError('VALIDATION_FAILED', 'maxBootAttempts must be a positive integer');
    }
  }

  get state(): SlotState {
    return this.#state;
  }

  /**
   * Called once per agent start: cleans crash leftovers, counts the boot, and rolls back when the
   * active model crash-looped or its slot is unreadable.
   */
  start(): Promise<BootDecision> {
    return this.#queue.run(async () => {
      try {
        await mkdir(this.#slotsDir, { recursive: true });
        await removeStaleTempFiles(this.dir);
        await removeStaleTempFiles(this.#slotsDir);
      } catch (err) {
        throw diskError(err, 'preparing model slots');
      }
      this.#state = await this.#readState();
      const active = this.#state.active ? await this.#readSlot(this.#state.active) : null;
      if (this.#state.active && !active) {
        return this.#rollBack('MODEL_INVALID', `slot ${this.#state.active} is missing or damaged`, null);
      }
      if (active && !this.#state.confirmed && this.#state.bootAttempts >= this.#maxBootAttempts) {
        return this.#rollBack(
          'CRASH_LOOP',
          `model ${active.signed.manifest.name}@${active.signed.manifest.version} did not stay up for ${this.#state.bootAttempts} boots`,
          active,
        );
      }
      await this.#writeState({ ...this.#state, bootAttempts: this.#state.bootAttempts + 1 }, 'boot:counted');
      return this.#decision(active, null);
    });
  }

  async #rollBack(code: ErrorCode, message: string, failed: SlotContents | null): Promise<BootDecision> {
    const from = this.#state.active;
    const previous = this.#state.previous ? await this.#readSlot(this.#state.previous) : null;
    const sha256 = failed?.signed.manifest.sha256 ?? null;
    const lastRollback = { sha256, reason: code, at: (this.options.now ?? Date.now)() };
    // The previous model was confirmed before it was replaced; it gets a fresh boot count.
    await this.#writeState(
      {
        v: 1,
        active: previous ? previous.slot : null,
        previous: previous ? from : null,
        confirmed: previous !== null,
        bootAttempts: previous ? 1 : 0,
        lastRollback,
      },
      'rollback:state-written',
    );
    return this.#decision(previous, { code, sha256, message });
  }

  async #decision(
    active: SlotContents | null,
    rolledBack: BootDecision['rolledBack'],
  ): Promise<BootDecision> {
    const previous = this.#state.previous ? await this.#readSlot(this.#state.previous) : null;
    return { active, previous, rolledBack, stateRecovered: this.#stateRecovered };
  }

  /**
   * Installs a verified artifact into the slot that is not active and returns that slot. The slot
   * held the rollback target; the state forgets it first, so no pointer ever names a half-written
   * slot. `artifactPath` is moved when possible (same file system), else copied.
   */
  stage(artifactPath: string, signed: SignedManifest): Promise<SlotName> {
    return this.#queue.run(async () => {
      const target: SlotName = this.#state.active === 'a' ? 'b' : 'a';
      if (this.#state.previous === target) {
        await this.#writeState({ ...this.#state, previous: null }, 'stage:previous-released');
      }
      const finalDir = join(this.#slotsDir, target);
      const buildDir = join(this.#slotsDir, `${target}.tmp-stage`);
      try {
        await rm(buildDir, { recursive: true, force: true });
        await mkdir(buildDir);
        await moveOrCopy(artifactPath, join(buildDir, MODEL_FILE));
        await writeFileAtomic(join(buildDir, MANIFEST_FILE), JSON.stringify(signed));
        await fsyncDir(buildDir);
        this.#step('stage:slot-built');
        await rm(finalDir, { recursive: true, force: true });
        this.#step('stage:old-slot-removed');
        await rename(buildDir, finalDir);
        await fsyncDir(this.#slotsDir);
      } catch (err) {
        throw diskError(err, `staging slot ${target}`);
      }
      this.#step('stage:slot-written');
      return target;
    });
  }

  /** Points the state at `slot`; the formerly active slot becomes the rollback target. */
  activate(slot: SlotName): Promise<SlotContents> {
    return this.#queue.run(async () => {
      const contents = await this.#readSlot(slot);
      if (!contents) throw new EdgeloopError('MODEL_INVALID', `slot ${slot} holds no complete model`);
      if (this.#state.active === slot) return contents;
      await this.#writeState(
        {
          ...this.#state,
          active: slot,
          previous: this.#state.active,
          confirmed: false,
          // This process is already running the new model: that is its first boot.
          bootAttempts: 1,
        },
        'activate:state-written',
      );
      return contents;
    });
  }

  /**
   * The inactive slot when it holds `sha256`: staged by a run that stopped before activating, or the
   * previous model that a desired state asks for again. Activating it needs no download.
   */
  staged(sha256: string): Promise<SlotContents | null> {
    return this.#queue.run(async () => {
      const inactive: SlotName = this.#state.active === 'a' ? 'b' : 'a';
      const contents = await this.#readSlot(inactive);
      return contents?.signed.manifest.sha256 === sha256 ? contents : null;
    });
  }

  /** The active model has served healthily: stop counting boots against it. */
  markHealthy(): Promise<void> {
    return this.#queue.run(async () => {
      if (!this.#state.active || (this.#state.confirmed && this.#state.bootAttempts === 0)) return;
      await this.#writeState({ ...this.#state, confirmed: true, bootAttempts: 0 }, 'healthy:state-written');
    });
  }

  /**
   * Rolls back at runtime (the new model failed its health check after activation): the previous
   * slot becomes active again. Throws when there is nothing to roll back to.
   */
  rollback(code: ErrorCode, message: string): Promise<BootDecision> {
    return this.#queue.run(async () => {
      const active = this.#state.active ? await this.#readSlot(this.#state.active) : null;
      if (!this.#state.previous) {
        throw new EdgeloopError('CONFLICT', 'no previous model to roll back to');
      }
      return this.#rollBack(code, message, active);
    });
  }

  /** The files of one slot, or null when it is absent or incomplete. */
  async #readSlot(slot: SlotName): Promise<SlotContents | null> {
    const slotDir = join(this.#slotsDir, slot);
    try {
      const signed = signedManifestSchema.parse(
        JSON.parse(await readFile(join(slotDir, MANIFEST_FILE), 'utf8')),
      );
      const modelPath = join(slotDir, MODEL_FILE);
      if ((await stat(modelPath)).size !== signed.manifest.size) return null;
      return { slot, modelPath, signed };
    } catch {
      return null;
    }
  }

  async #readState(): Promise<SlotState> {
    let text: string;
    try {
      text = await readFile(this.#statePath, 'utf8');
    } catch (err) {
      if (isNotFound(err)) return EMPTY_STATE;
      throw diskError(err, 'reading slots.json');
    }
    const parsed = slotStateSchema.safeParse(safeJson(text));
    if (parsed.success) return parsed.data;
    // Written atomically, so this is outside damage. Guessing which slot was good could boot a model
    // that crash-loops; starting empty lets the retained desired state bring the right one back.
    this.#stateRecovered = true;
    return EMPTY_STATE;
  }

  async #writeState(next: SlotState, step: string): Promise<void> {
    await writeFileAtomic(this.#statePath, JSON.stringify(next));
    this.#state = next;
    this.#step(step);
  }

  #step(step: string): void {
    this.options.afterStep?.(step);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function moveOrCopy(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as { code?: string }).code !== 'EXDEV') throw err;
    await copyFile(from, to);
  }
  const handle = await open(to, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
