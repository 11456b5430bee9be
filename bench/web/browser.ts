// Headless Chromium through playwright-core (a dependency of the browser tests, loaded from there):
// the minimal shapes of what the bench uses, where Chromium is, and how it is launched.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bench = join(dirname(fileURLToPath(import.meta.url)), '..');

// playwright-core is the browser tests' dependency: load it from there.
const testRequire = createRequire(join(bench, '..', 'test', 'package.json'));

// ── Minimal shapes of what is used from playwright-core ──────────────────────────────────────────
export interface PwPage {
  goto(url: string): Promise<unknown>;
  reload(): Promise<unknown>;
  evaluate(expression: string): Promise<unknown>;
  waitForFunction(expression: string, arg?: unknown, options?: { timeout: number }): Promise<unknown>;
  on(event: 'pageerror', fn: (e: Error) => void): void;
}
export interface PwContext {
  newPage(): Promise<PwPage>;
  close(): Promise<void>;
}
export interface PwBrowser {
  newContext(): Promise<PwContext>;
  close(): Promise<void>;
  version(): string;
}
interface Playwright {
  chromium: {
    launch(o: { executablePath: string; headless: boolean; args: string[] }): Promise<PwBrowser>;
  };
}
export type ChromiumLauncher = Playwright['chromium'];

export const CHROMIUM_PATH = [
  process.env.CHROMIUM_PATH,
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
].find((p): p is string => !!p && existsSync(p));
/** The flags test/support/browser.ts uses (no sandbox as root, no background network chatter). */
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

/** playwright-core's Chromium, from the browser tests' dependencies. */
export function chromiumLauncher(): ChromiumLauncher {
  return (testRequire('playwright-core') as Playwright).chromium;
}

/** Headless Chromium at `executablePath` with the browser tests' flags. */
export function launchHeadless(chromium: ChromiumLauncher, executablePath: string): Promise<PwBrowser> {
  return chromium.launch({ executablePath, headless: true, args: FLAGS });
}
