#!/usr/bin/env node
// `pnpm test`: the whole suite, on source, in one vitest run.
// - Integration tests always run against the embedded PGlite and aedes; when DATABASE_URL and/or
//   MQTT_URL are set they also run against those real servers.
// - Browser tests run in Debian's headless Chromium (playwright-core). Without a Chromium they are
//   skipped, loudly; with EDGELOOP_REQUIRE_BROWSER=1 (as in .ci/run) a missing Chromium fails.
// Ends with one plain line "tests: N passed, N failed, N skipped, N flaky" that CI reads; tests
// that passed only on CI's one retry are listed by name in a banner above it.
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
const flakyReport = '.vitest-flaky.json';
rmSync(report, { force: true });
rmSync(flakyReport, { force: true });
const args = [
  'node_modules/vitest/vitest.mjs',
  'run',
  '--reporter=default',
  '--reporter=json',
  '--reporter=./scripts/flaky-reporter.mjs',
  `--outputFile.json=${report}`,
  ...process.argv.slice(2),
];
const run = spawnSync(process.execPath, args, {
  stdio: 'inherit',
  env: { ...env, EDGELOOP_FLAKY_REPORT: flakyReport },
});

let summary = 'tests: 0 passed, 1 failed, 0 skipped';
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  summary = `tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`;
  if (!chromium && !requireBrowser) {
    banner(['Browser tests were SKIPPED (no Chromium). See the banner at the top of this run.']);
  }
}
if (existsSync(flakyReport)) {
  const flaky = JSON.parse(readFileSync(flakyReport, 'utf8'));
  if (flaky.length > 0) {
    banner([
      `${flaky.length} FLAKY TEST(S): failed first, passed on retry. Fix them:`,
      ...flaky.map((t) => `${t.file} > ${t.test}`),
    ]);
  }
  summary += `, ${flaky.length} flaky`;
}
console.log(summary);
process.exitCode = run.status ?? 1;
