// The `edgeloop` dispatcher. Each package declares its commands (a path such as ['device', 'add'],
// options, run) and exports them from its entry; this file only collects them, parses arguments
// with util.parseArgs, prints help and turns errors into messages and exit codes. A later package
// (edge agent, simulator, models, rollouts) joins by adding its list to COMMANDS.
import { parseArgs } from 'node:util';
import {
  type CliCommand,
  type CliIO,
  CliUsageError,
  ConfigError,
  cloudCliCommands,
  EXIT,
} from '@edgeloop/cloud';
import { agentStartCommand } from './agent.ts';
import { demoStartCommand } from './demo.ts';
import { simCommand } from './sim.ts';

// The cloud's own `start` runs the cloud alone; the demo's adds the simulated fleet and a rollout.
const COMMANDS: readonly CliCommand[] = [
  ...cloudCliCommands.filter((c) => c.path.join(' ') !== 'start'),
  demoStartCommand,
  agentStartCommand,
  simCommand,
];

const VERSION = '0.1.0';

export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  const words = argv.filter((a) => !a.startsWith('-'));
  const command = findCommand(words);
  const helpAsked = argv.includes('--help') || argv.includes('-h');

  if (argv[0] === '--version' || argv[0] === '-v') {
    io.out(`edgeloop ${VERSION}\n`);
    return EXIT.ok;
  }
  if (!command) {
    const prefix = words.slice(0, 1);
    const group = COMMANDS.filter((c) => prefix.length > 0 && c.path[0] === prefix[0]);
    if (argv.length === 0 || helpAsked || words[0] === 'help') {
      io.out(overview(group.length > 0 ? group : COMMANDS));
      return EXIT.ok;
    }
    io.err(
      group.length > 0
        ? `edgeloop ${prefix.join(' ')}: unknown command "${words.slice(0, 2).join(' ')}"\n\n${overview(group)}`
        : `edgeloop: unknown command "${words[0] ?? argv[0]}". Run \`edgeloop --help\`.\n`,
    );
    return EXIT.usage;
  }
  if (helpAsked) {
    io.out(commandHelp(command));
    return EXIT.ok;
  }

  try {
    const { values, positionals } = parseArgs({
      args: argv.slice(command.path.length),
      options: Object.fromEntries(
        Object.entries(command.options).map(([name, o]) => [
          name,
          { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) },
        ]),
      ),
      allowPositionals: true,
      strict: true,
    });
    const { min, max } = command.positionals ?? { min: 0, max: 0 };
    if (positionals.length < min) throw new CliUsageError(`missing ${command.args ?? 'arguments'}`);
    if (positionals.length > max) throw new CliUsageError(`unexpected argument "${positionals[max]}"`);
    return await command.run({ values, positionals, io });
  } catch (err) {
    return report(err, command, io);
  }
}

function findCommand(words: string[]): CliCommand | undefined {
  // Longest path first, so `cloud start` wins over a hypothetical `cloud`.
  return [...COMMANDS]
    .sort((a, b) => b.path.length - a.path.length)
    .find((c) => c.path.every((word, i) => words[i] === word));
}

function report(err: unknown, command: CliCommand, io: CliIO): number {
  const name = `edgeloop ${command.path.join(' ')}`;
  if (err instanceof ConfigError) {
    io.err(
      `${name}: invalid configuration\n${err.issues.map((i) => `  ${i.source}: ${i.field}: ${i.message}`).join('\n')}\n`,
    );
    return EXIT.usage;
  }
  const code = (err as { code?: unknown }).code;
  // util.parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes for unknown or malformed options.
  if (err instanceof CliUsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
    io.err(`${name}: ${(err as Error).message}\n\n${commandHelp(command)}`);
    return EXIT.usage;
  }
  if (err instanceof Error && typeof code === 'string') {
    const details = (err as { details?: unknown }).details;
    const fields = Array.isArray(details)
      ? details
          .map((d: { path?: string; message?: string }) => (d.path ? `\n  ${d.path}: ${d.message}` : ''))
          .join('')
      : '';
    io.err(`${name}: ${err.message} [${code}]${fields}\n`);
    return EXIT.failed;
  }
  io.err(`${name}: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return EXIT.failed;
}

function overview(commands: readonly CliCommand[]): string {
  const rows = commands.map((c) => [`edgeloop ${c.path.join(' ')}${c.args ? ` ${c.args}` : ''}`, c.summary]);
  const width = Math.max(...rows.map(([u]) => (u as string).length));
  return [
    'usage: edgeloop <command> [options]   (edgeloop <command> --help for its options)',
    '',
    ...rows.map(([usage, summary]) => `  ${(usage as string).padEnd(width)}  ${summary}`),
    '',
    'Exit codes: 0 ok, 1 the operation failed, 2 bad command line or configuration.',
    '',
  ].join('\n');
}

function commandHelp(command: CliCommand): string {
  const options = Object.entries(command.options).map(([name, o]) => [
    `--${name}${o.value ? ` ${o.value}` : ''}${o.short ? `, -${o.short}` : ''}`,
    `${o.help}${o.multiple ? ' (repeatable)' : ''}`,
  ]);
  options.push(['--help, -h', 'show this help']);
  const width = Math.max(...options.map(([f]) => (f as string).length));
  return [
    `usage: edgeloop ${command.path.join(' ')}${command.args ? ` ${command.args}` : ''} [options]`,
    '',
    `${command.summary}.`,
    ...(command.details ? ['', command.details] : []),
    '',
    'options:',
    ...options.map(([flag, help]) => `  ${(flag as string).padEnd(width)}  ${help}`),
    '',
  ].join('\n');
}

function processIO(): CliIO {
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    env: process.env,
    isTTY: process.stdout.isTTY === true,
  };
}
