#!/usr/bin/env node
// `pnpm bench <name> [args]`: runs bench/<name>.ts, which prints a table and writes
// bench/results/<name>.json. `pnpm bench` alone lists the benchmarks.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register();
const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.startsWith('_'))
  .map((f) => f.slice(0, -3))
  .sort();
const [name, ...args] = process.argv.slice(2);
if (!name || !available.includes(name)) {
  console.log(`usage: pnpm bench <name> [args]\n\nbenchmarks: ${available.join(', ') || '(none yet)'}`);
  process.exit(name ? 2 : 0);
}
const bench = await import(join(here, `${name}.ts`));
await bench.run(args);
