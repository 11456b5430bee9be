#!/usr/bin/env node
// Typechecks every package with its own tsconfig: shared/ without DOM or Node types (it must run
// in browsers and on devices), web-sdk/ with DOM, the rest with Node.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const projects = [
  'shared/tsconfig.json',
  'shared/tsconfig.test.json',
  'firmware-configs/tsconfig.json',
  'cloud/tsconfig.json',
  'edge-agent/tsconfig.json',
  'web-sdk/tsconfig.json',
  'test/tsconfig.json',
  'bench/tsconfig.json',
  'bin/tsconfig.json',
];
let failed = 0;
for (const project of projects) {
  if (!existsSync(project)) continue;
  const started = Date.now();
  const r = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', project], {
    stdio: 'inherit',
  });
  const ok = r.status === 0;
  if (!ok) failed++;
  console.log(
    `typecheck ${ok ? 'ok  ' : 'FAIL'} ${project} (${((Date.now() - started) / 1000).toFixed(1)} s)`,
  );
}
process.exit(failed ? 1 : 0);
