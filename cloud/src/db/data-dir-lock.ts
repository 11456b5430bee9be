// PGlite is a single-process database: a second process opening the same data directory would
// corrupt it, and PGlite does not prevent that. A pid lock file does: created exclusively, removed
// on close, and taken over only when the process that wrote it is gone (a crash leaves it behind).
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { EdgeloopError } from '@edgeloop/shared';

export const DATA_DIR_LOCK_FILE = 'edgeloop.lock';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function acquireDataDirLock(dataDir: string): Promise<{ release: () => Promise<void> }> {
  const path = join(dataDir, DATA_DIR_LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return { release: () => rm(path, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(holder) && holder !== process.pid && isAlive(holder)) {
        throw new EdgeloopError(
          'CONFLICT',
          `database directory ${dataDir} is in use by process ${holder}; PGlite allows one process ` +
            'per directory (set DATABASE_URL to share a PostgreSQL server between processes)',
          { details: { dataDir, pid: holder } },
        );
      }
      if (holder === process.pid) {
        throw new EdgeloopError('CONFLICT', `database directory ${dataDir} is already open in this process`);
      }
      await rm(path, { force: true }); // stale: its process is gone
    }
  }
  throw new EdgeloopError('CONFLICT', `could not lock database directory ${dataDir}`);
}
