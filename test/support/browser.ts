// Headless Chromium for browser tests: Debian's chromium driven by playwright-core (never a
// downloaded browser build, never jsdom). Without a Chromium the browser suites are skipped, and
// `pnpm test` says so loudly; with EDGELOOP_REQUIRE_BROWSER=1 (CI) a missing Chromium is a failure.
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { describe } from 'vitest';

export const CHROMIUM_PATH = [
  process.env.CHROMIUM_PATH,
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
].find((p): p is string => !!p && existsSync(p));

if (!CHROMIUM_PATH && process.env.EDGELOOP_REQUIRE_BROWSER === '1') {
  throw new Error(
    'EDGELOOP_REQUIRE_BROWSER=1 but no Chromium found (apt-get install -y chromium, or set CHROMIUM_PATH)',
  );
}

/** `describe` when a Chromium is available, `describe.skip` (with a warning) otherwise. */
export const describeInBrowser: typeof describe = CHROMIUM_PATH
  ? describe
  : (((name: string, ...rest: unknown[]) => {
      console.warn(
        `SKIPPED browser suite "${name}": no Chromium (set CHROMIUM_PATH or apt-get install -y chromium)`,
      );
      return (describe.skip as (...a: unknown[]) => void)(name, ...rest);
    }) as typeof describe);

/** Flags measured to work here: no sandbox as root, no background network chatter (the network is closed). */
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export interface LaunchedBrowser {
  browser: Browser;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<LaunchedBrowser> {
  if (!CHROMIUM_PATH) throw new Error('no Chromium available');
  // playwright gives every launch a fresh temporary profile (a new empty user-data-dir).
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: FLAGS });
  return { browser, close: () => browser.close() };
}
