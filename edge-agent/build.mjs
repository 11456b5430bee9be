#!/usr/bin/env node
// `pnpm build:agent` (or `node edge-agent/build.mjs [--outdir DIR]`): bundles the edge agent's CLI
// (src/main.ts → runAgentCli) into one ESM file for Node ≥ 20, so a device runs plain JavaScript
// instead of the TypeScript sources through tsx (issue [D]: tsx alone costs ~36 MB of RSS).
//
// Output in DIR (default edge-agent/dist/):
//   edgeloop-agent.mjs (+ .map)  the agent and every pure-JS dependency (zod, hono, mqtt, yaml, …)
//   <class>.yaml                 the built-in device profiles: firmware-configs resolves
//                                `--profile raspberry-pi-4` next to its own module, which in the
//                                bundle is the bundle's folder
// Kept external, installed next to the bundle on the device: the packages with native bindings.
import { copyFile, mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const PROFILES_DIR = join(here, '..', 'firmware-configs');
export const BUNDLE_NAME = 'edgeloop-agent.mjs';

/**
 * onnxruntime-node and sharp load platform binaries (.node files, libvips, libonnxruntime) found
 * relative to their own package; ws's bufferutil / utf-8-validate are optional native speed-ups it
 * requires inside try/catch (mqtt's websocket transport), absent here and on devices.
 */
export const EXTERNAL = ['onnxruntime-node', 'sharp', 'bufferutil', 'utf-8-validate'];

export async function buildAgent({ outdir = join(here, 'dist') } = {}) {
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  const outfile = join(outdir, BUNDLE_NAME);
  const result = await build({
    entryPoints: [join(here, 'src', 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    external: EXTERNAL,
    // CommonJS dependencies bundled into ESM (mqtt, prom-client) still call require() for Node's
    // built-ins; give the bundle a real one.
    banner: {
      js: "import { createRequire as __edgeloopCreateRequire } from 'node:module';\nconst require = __edgeloopCreateRequire(import.meta.url);",
    },
    logLevel: 'warning',
    metafile: true,
  });
  const profiles = (await readdir(PROFILES_DIR)).filter((f) => f.endsWith('.yaml'));
  for (const file of profiles) await copyFile(join(PROFILES_DIR, file), join(outdir, file));
  const bytes = result.metafile.outputs[relative(process.cwd(), outfile)]?.bytes;
  return { outfile, bytes, profiles };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { outdir: { type: 'string' } } });
  const { outfile, bytes, profiles } = await buildAgent(values.outdir ? { outdir: values.outdir } : {});
  console.log(
    `built ${outfile}${bytes ? ` (${(bytes / 1024).toFixed(0)} KiB)` : ''} + ${profiles.length} profiles; external: ${EXTERNAL.join(', ')}`,
  );
}
