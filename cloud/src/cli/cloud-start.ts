// `edgeloop cloud start` (every setting as a flag or env var) and `edgeloop start` (the quick start:
// embedded database and broker, an admin token kept in the data dir, the URLs printed).
import { type RunningCloud, startCloud } from '../cloud.ts';
import { CLOUD_SETTINGS, type CloudConfig, loadCloudConfig } from '../config/index.ts';
import { createLogger } from '../log/index.ts';
import type { CliCommand, CliIO, CliOption, CliValues } from './command.ts';
import { EXIT } from './command.ts';

const settingOptions: Record<string, CliOption> = Object.fromEntries(
  CLOUD_SETTINGS.map((s) => [
    s.flag,
    {
      type: s.boolean ? 'boolean' : 'string',
      ...(s.boolean ? {} : { value: '<value>' }),
      help: `${s.help} [${s.env}]`,
    },
  ]),
);

function configFrom(values: CliValues, io: CliIO, overrides: { quickStart?: boolean } = {}): CloudConfig {
  const flags = Object.fromEntries(
    Object.entries(values).filter(
      (e): e is [string, string | boolean] => typeof e[1] === 'string' || typeof e[1] === 'boolean',
    ),
  );
  if (overrides.quickStart) flags['quick-start'] = true;
  return loadCloudConfig({ flags, env: io.env });
}

/**
 * Something started beside the cloud once it runs (the demo's simulated fleet). It receives the
 * running cloud and a signal aborted at shutdown, and returns how to stop it; it is stopped before
 * the cloud closes.
 */
export type AfterCloudStart = (
  cloud: RunningCloud,
  context: { io: CliIO; signal: AbortSignal; values: CliValues },
) => Promise<() => Promise<void>>;

async function runCloud(
  config: CloudConfig,
  io: CliIO,
  banner: (cloud: RunningCloud) => string,
  afterStart?: (cloud: RunningCloud, signal: AbortSignal) => Promise<() => Promise<void>>,
): Promise<number> {
  const logger = createLogger({
    level: config.log.level,
    format: config.log.format,
    sink: io.logSink ?? process.stdout,
  });
  const stopping = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping.signal.aborted) {
      io.err(`${signal} again: exiting without a clean shutdown\n`);
      process.exit(130);
    }
    logger.info({ component: 'cloud', signal }, 'shutting down (finishing in-flight requests)');
    stopping.abort();
  };
  io.stop?.addEventListener('abort', () => stopping.abort());
  if (!io.stop) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  try {
    const cloud = await startCloud(config, { logger, signal: stopping.signal });
    io.out(banner(cloud));
    let stopBeside: (() => Promise<void>) | undefined;
    try {
      stopBeside = afterStart ? await afterStart(cloud, stopping.signal) : undefined;
      if (!stopping.signal.aborted) {
        await new Promise<void>((resolve) =>
          stopping.signal.addEventListener('abort', () => resolve(), { once: true }),
        );
      }
    } finally {
      await stopBeside?.();
      await cloud.close();
    }
    return EXIT.ok;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function urlLines(cloud: RunningCloud): string {
  const ws = cloud.urls.mqttWs ? `  (WebSocket ${cloud.urls.mqttWs})` : '';
  return [
    `  API          ${cloud.urls.api}`,
    `  API docs     ${cloud.urls.docs}`,
    `  web demo     ${cloud.urls.demo}`,
    `  dashboard    ${cloud.urls.dashboard}  (sign in with an API token)`,
    `  MQTT broker  ${cloud.urls.mqtt}${ws}`,
    `  database     ${cloud.databaseDriver}`,
  ].join('\n');
}

const cloudStart: CliCommand = {
  path: ['cloud', 'start'],
  summary: 'run the cloud (API, broker connection, database) until SIGINT/SIGTERM',
  options: settingOptions,
  details: 'Flags win over environment variables; every value is checked once, at start.',
  async run({ values, io }) {
    const config = configFrom(values, io);
    return runCloud(config, io, (cloud) => {
      const token = cloud.adminToken ? `\n  admin token  ${cloud.adminToken}` : '';
      return `edgeloop cloud running\n${urlLines(cloud)}${token}\n`;
    });
  },
};

/**
 * `edgeloop start`. Whatever composes the cloud with other parts (bin/demo.ts adds the simulated
 * fleet) builds its own quick start from this, with extra options and an `afterStart` hook.
 */
export function quickStartCommand(
  extra: {
    summary?: string;
    options?: Record<string, CliOption>;
    details?: string;
    afterStart?: AfterCloudStart;
  } = {},
): CliCommand {
  const extraNames = new Set(Object.keys(extra.options ?? {}));
  return {
    path: ['start'],
    summary:
      extra.summary ?? 'quick start: the cloud on embedded defaults, printing its URLs and an admin token',
    options: { ...settingOptions, ...extra.options },
    details:
      'Same flags as `edgeloop cloud start`. The admin token is created on first start and kept in\n' +
      '<data-dir>/admin-token, so later starts (and CLI commands run here) reuse it.' +
      (extra.details ? `\n${extra.details}` : ''),
    async run({ values, io }) {
      const cloudValues = Object.fromEntries(Object.entries(values).filter(([k]) => !extraNames.has(k)));
      const config = configFrom(cloudValues, io, { quickStart: true });
      const afterStart = extra.afterStart;
      return runCloud(
        config,
        io,
        quickStartBanner,
        afterStart && ((cloud, signal) => afterStart(cloud, { io, signal, values })),
      );
    },
  };
}

function quickStartBanner(cloud: RunningCloud): string {
  return [
    '',
    'edgeloop is running',
    urlLines(cloud),
    `  admin token  ${cloud.adminToken}`,
    '',
    ...(cloud.bootstrapJob
      ? [
          `No model yet: training the default model "${cloud.bootstrapJob.model}" on MNIST in the background (job ${cloud.bootstrapJob.id}).`,
          `  Watch it:   edgeloop model watch ${cloud.bootstrapJob.id}`,
          `  or stream:  ${cloud.urls.api}/api/v1/jobs/${cloud.bootstrapJob.id}/events`,
          '  When it ends it is the champion: edgeloop model show digits',
          '',
        ]
      : []),
    'Try:  edgeloop device add cam-1 --class simulated',
    '      edgeloop device list',
    `      (from another directory: --cloud ${cloud.urls.api} --token <admin token>)`,
    'Stop with Ctrl-C.',
    '',
  ].join('\n');
}

export const cloudStartCommands: CliCommand[] = [cloudStart, quickStartCommand()];
