#!/usr/bin/env node
// The `edgeloop` command. Runs the TypeScript sources directly (through tsx), so a fresh clone
// needs no build step: `pnpm start`, `pnpm edgeloop <command>`, or `npx edgeloop <command>`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./cli.ts');
process.exitCode = await main(process.argv.slice(2));
