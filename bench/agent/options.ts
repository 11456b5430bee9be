// The command line of `pnpm bench agent`, parsed once into the numbers the bench runs with.
import { parseArgs } from 'node:util';

export const USAGE = `pnpm bench agent [options]
  --seconds S                  length of each measured round, seconds (default 4)
  --rounds R                   rounds, each one of bare and of every agent path (default 3)
  --concurrency C              requests in flight against each agent, and frames in flight on the
                               bare path (default 2: one per core of these machines); a sequential
                               round (C = 1) is measured beside it in every round
  --idle-seconds S             idle window for the agents' idle CPU, seconds (default 10)
  --cpu-prof FILE              write a V8 CPU profile of the tsx agent's process over the rounds
  --agent-node-options=FLAGS   Node flags for the tsx agent's process only (write it with =)
writes bench/results/agent.json`;

/**
 * A camera pipeline keeps more than one frame in flight (capture, then post, while the previous
 * answer is still on its way), so the agent is measured with requests overlapping. Two is one per
 * core of the 2-core machines these numbers come from: enough that neither the agent's nor the bare
 * path's CPU waits on a round trip, without turning the bench into a queueing test.
 */
export const DEFAULT_CONCURRENCY = 2;

export interface AgentBenchOptions {
  seconds: number;
  rounds: number;
  /** Frames in flight on every path for `ratio_vs_bare`; 1 is measured as well (`ratio_vs_bare_sequential`). */
  concurrency: number;
  idleSeconds: number;
  cpuProf: string | undefined;
  agentNodeOptions: string;
  help: boolean;
}

export function parseAgentBenchOptions(args: string[]): AgentBenchOptions {
  const { values } = parseArgs({
    args,
    options: {
      seconds: { type: 'string', default: '4' },
      rounds: { type: 'string', default: '3' },
      concurrency: { type: 'string', default: String(DEFAULT_CONCURRENCY) },
      'idle-seconds': { type: 'string', default: '10' },
      'cpu-prof': { type: 'string' },
      'agent-node-options': { type: 'string', default: '' },
      help: { type: 'boolean', default: false },
    },
  });
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new Error(`--concurrency must be a whole number of at least 1, got ${values.concurrency}`);
  return {
    seconds: Number(values.seconds),
    rounds: Number(values.rounds),
    concurrency,
    idleSeconds: Number(values['idle-seconds']),
    cpuProf: values['cpu-prof'],
    agentNodeOptions: values['agent-node-options'],
    help: values.help,
  };
}
