// The entry of the bundled agent (`pnpm build:agent` → edge-agent/dist/edgeloop-agent.mjs), which a
// device runs with plain Node instead of the TypeScript sources through tsx:
//   node edgeloop-agent.mjs agent start [options]
// The command line is `edgeloop agent start`'s: the same flags and environment variables, parsed
// and validated by the same runAgentCli, with the same exit codes (0 ok, 1 the agent could not
// start, 2 bad command line). `start …` without the leading `agent` works too.
import { runAgentCli } from './cli.ts';

const argv = process.argv.slice(2);
process.exitCode = await runAgentCli(argv[0] === 'agent' ? argv.slice(1) : argv);
