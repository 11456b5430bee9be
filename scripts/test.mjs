#!/usr/bin/env node
// `pnpm test`: the whole suite, on source, in one vitest run.
// - Integration tests always run against the embedded PGlite and aedes; when DATABASE_URL and/or
//   MQTT_URL are set they also run against those real servers.
// - Browser tests run in Debian's headless Chromium (playwright-core). Without a Chromium they are
//   skipped, loudly; with EDGELOOP_REQUIRE_BROWSER=1 (as in .ci/run) a missing Chromium fails.
// Ends with one plain line "tests: N passed, N failed, N skipped" that CI reads.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';

const chromium = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
  (p) => p && existsSync(p),
);
const requireBrowser = process.env.EDGELOOP_REQUIRE_BROWSER === '1';
const banner = (lines) => {
  const width = Math.max(...lines.map((l) => l.length)) + 4;
  console.log(`\n${'!'.repeat(width)}`);
  for (const l of lines) console.log(`! ${l.padEnd(width - 4)} !`);
  console.log(`${'!'.repeat(width)}\n`);
};
if (!chromium) {
  if (requireBrowser) {
    banner([
      'EDGELOOP_REQUIRE_BROWSER=1 but no Chromium was found.',
      'Install it: apt-get install -y chromium',
    ]);
    process.exit(1);
  }
  banner([
    'NO CHROMIUM FOUND: browser tests (web SDK, dashboard) will be SKIPPED.',
    "Install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH to run them.",
  ]);
}
const env = { ...process.env, ...(chromium ? { CHROMIUM_PATH: chromium } : {}) };
for (const [name, value] of [
  ['DATABASE_URL', env.DATABASE_URL],
  ['MQTT_URL', env.MQTT_URL],
]) {
  console.log(
    value ? `${name}=${value}: real-server tests enabled` : `${name} not set: embedded defaults only`,
  );
}

const report = '.vitest-report.json';
rmSync(report, { force: true });
const args = [
  'node_modules/vitest/vitest.mjs',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${report}`,
  ...process.argv.slice(2),
];
const run = spawnSync(process.execPath, args, { stdio: 'inherit', env });

let summary = 'tests: 0 passed, 1 failed, 0 skipped';
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  summary = `tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`;
  if (!chromium && !requireBrowser) {
    banner(['Browser tests were SKIPPED (no Chromium). See the banner at the top of this run.']);
  }
}
console.log(summary);
process.exit(run.status ?? 1);
