// `edgeloop agent start ...`: parses flags (plus EDGELOOP_* environment variables), validates the
// whole configuration once, starts the agent and runs until SIGINT/SIGTERM. Returns the exit code.
import { parseArgs } from 'node:util';
import { EdgeloopError } from '@edgeloop/shared';
import { type AgentHandle, startAgent } from './agent.ts';
import { agentConfigFromSources } from './config.ts';
import { jsonLinesLogger } from './log.ts';

export const AGENT_USAGE = `Usage: edgeloop agent start [options]

Runs an edge agent: connects to the broker, applies the desired model, serves local inference.

Options (each also from the environment variable in brackets):
  --device-id <id>         device id, [a-z0-9][a-z0-9_-]{0,63}          [EDGELOOP_DEVICE_ID]
  --token <secret>         the device's MQTT password                   [EDGELOOP_TOKEN]
  --profile <id|path>      device class, e.g. raspberry-pi-4 or
                           firmware-configs/raspberry-pi-4.yaml         [EDGELOOP_PROFILE]
  --cloud <url>            cloud HTTP API (fetches and pins signing keys) [EDGELOOP_CLOUD_URL]
  --broker <url>           MQTT broker (default: mqtt://<cloud host>:1883) [EDGELOOP_BROKER_URL, MQTT_URL]
  --data-dir <path>        models, downloads, telemetry queue (default ./edgeloop-agent-<id>)
                                                                        [EDGELOOP_DATA_DIR]
  --trusted-key <base64>   Ed25519 public key to trust; repeatable      [EDGELOOP_TRUSTED_KEYS, comma-separated]
  --api-host <host>        local API host (default 127.0.0.1)           [EDGELOOP_API_HOST]
  --api-port <port>        local API port, 0 = any free (default 8080)  [EDGELOOP_API_PORT]
  -h, --help               show this help

Local API: POST /infer (image bytes), GET /healthz, GET /metrics.
`;

export interface AgentCliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
  /** Resolves when the process is asked to stop; defaults to SIGINT/SIGTERM. */
  untilSignal?: (agent: AgentHandle) => Promise<void>;
}

const defaultIo: AgentCliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
};

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}

/** `argv` starts after `agent` (e.g. ["start", "--device-id", "cam-1", ...]). */
export async function runAgentCli(argv: readonly string[], io: AgentCliIo = defaultIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    io.stdout(AGENT_USAGE);
    return command === undefined ? 1 : 0;
  }
  if (command !== 'start') {
    io.stderr(`edgeloop agent: unknown command "${command}"\n\n${AGENT_USAGE}`);
    return 2;
  }
  let flags: Record<string, string | string[] | boolean | undefined>;
  try {
    flags = parseArgs({
      args: [...rest],
      strict: true,
      options: {
        'device-id': { type: 'string' },
        token: { type: 'string' },
        profile: { type: 'string' },
        cloud: { type: 'string' },
        broker: { type: 'string' },
        'data-dir': { type: 'string' },
        'trusted-key': { type: 'string', multiple: true },
        'api-host': { type: 'string' },
        'api-port': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    io.stderr(`edgeloop agent start: ${(err as Error).message}\n\n${AGENT_USAGE}`);
    return 2;
  }
  if (flags['help']) {
    io.stdout(AGENT_USAGE);
    return 0;
  }
  const { help: _help, ...stringFlags } = flags as Record<string, string | string[] | undefined>;
  const deviceId =
    typeof stringFlags['device-id'] === 'string' ? stringFlags['device-id'] : io.env['EDGELOOP_DEVICE_ID'];
  if (stringFlags['data-dir'] === undefined && io.env['EDGELOOP_DATA_DIR'] === undefined && deviceId) {
    stringFlags['data-dir'] = `edgeloop-agent-${deviceId}`;
  }
  // A configuration that does not validate is a usage error (exit 2, like every edgeloop command);
  // failing to start with a valid one (unreadable profile, occupied port…) is an operation failure (1).
  let config: ReturnType<typeof agentConfigFromSources>;
  try {
    config = agentConfigFromSources({ flags: stringFlags, env: io.env });
  } catch (err) {
    const code = err instanceof EdgeloopError ? err.code : 'INTERNAL';
    io.stderr(`edgeloop agent start: ${code}: ${(err as Error).message}\n`);
    return code === 'VALIDATION_FAILED' ? 2 : 1;
  }
  let agent: AgentHandle;
  try {
    agent = await startAgent(config, {
      logger: jsonLinesLogger({ deviceId: config.deviceId }, (l) => io.stderr(`${l}\n`)),
    });
  } catch (err) {
    const code = err instanceof EdgeloopError ? err.code : 'INTERNAL';
    io.stderr(`edgeloop agent start: ${code}: ${(err as Error).message}\n`);
    return 1;
  }
  io.stdout(`edgeloop agent ${agent.deviceId} serving on ${agent.localUrl}\n`);
  await (io.untilSignal ?? waitForSignal)(agent);
  await agent.stop();
  return 0;
}
