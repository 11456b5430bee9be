// The quick start's `demo` app key: created on first start and kept in the data dir (mode 0600), so
// the demo link printed at start keeps working across restarts. A key an operator revoked is
// replaced, never revived.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../log/index.ts';
import type { AppKeyStore } from './store.ts';

export const DEMO_KEY_FILE = 'demo-app-key';

export async function quickStartDemoKey(dataDir: string, keys: AppKeyStore, logger: Logger): Promise<string> {
  const file = join(dataDir, DEMO_KEY_FILE);
  const stored = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (stored) {
    const usable = await keys.authenticate(stored).then(
      () => true,
      () => false,
    );
    if (usable) return stored;
    logger.warn({ file }, 'the stored demo app key is revoked or unknown; creating a new one');
  }
  // No allowed origins: only the cloud's own /demo page (same origin) may use it.
  const { key } = await keys.create({ name: 'demo' });
  await mkdir(dataDir, { recursive: true });
  await writeFile(file, `${key}\n`, { mode: 0o600 });
  return key;
}
