// Small helpers for state that must survive power loss. The agent's rule: a file is either the old
// version or the new one, never half of each — write a temp file, fsync it, rename it over the
// target, fsync the directory (the rename itself lives in the directory's metadata).
import { randomBytes } from 'node:crypto';
import { open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { EdgeloopError } from '@edgeloop/shared';

const TEMP_MARKER = '.tmp-';

/** fsync a directory so renames and unlinks in it are durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Replaces `path` with `data` atomically and durably. Errors are mapped by `diskError`. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temp = `${path}${TEMP_MARKER}${randomBytes(4).toString('hex')}`;
  try {
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    await fsyncDir(dirname(path));
  } catch (err) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw diskError(err, `writing ${basename(path)}`);
  }
}

/** Removes temp files a crash may have left next to their targets in `dir`. */
export async function removeStaleTempFiles(dir: string): Promise<number> {
  const stale = (await readdir(dir)).filter((name) => name.includes(TEMP_MARKER));
  await Promise.all(stale.map((name) => rm(join(dir, name), { force: true, recursive: true })));
  return stale.length;
}

export function isTempFile(name: string): boolean {
  return name.includes(TEMP_MARKER);
}

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}

/**
 * Maps a file-system failure to a stable code: a full disk (ENOSPC, or EDQUOT for a quota) is
 * DISK_FULL, which the controller reports and retries later; anything else is INTERNAL.
 */
export function diskError(err: unknown, doing: string): EdgeloopError {
  if (err instanceof EdgeloopError) return err;
  const code = errnoCode(err);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new EdgeloopError('DISK_FULL', `disk full while ${doing}`, { cause: err });
  }
  return new EdgeloopError('INTERNAL', `file system error while ${doing}: ${(err as Error).message}`, {
    cause: err,
  });
}

export function isNotFound(err: unknown): boolean {
  return errnoCode(err) === 'ENOENT';
}

/** Runs async operations one at a time, in call order: file state is never touched concurrently. */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(operation, operation);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}
