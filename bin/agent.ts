// `edgeloop agent start`: the edge agent's own CLI (@edgeloop/edge-agent's runAgentCli), listed with
// the other commands. The agent parses and validates its flags itself, so this entry only forwards
// the command line; its help is the agent's usage text.

import type { CliCommand, CliIO, CliOption } from '@edgeloop/cloud';
import { runAgentCli } from '@edgeloop/edge-agent';

const flag = (value: string, help: string, multiple = false): CliOption => ({
  type: 'string',
  value,
  help,
  ...(multiple ? { multiple: true } : {}),
});

export const agentStartCommand: CliCommand = {
  path: ['agent', 'start'],
  summary: 'run an edge agent on this device: pull models over MQTT, verify, swap, infer, report',
  options: {
    'device-id': flag('<id>', 'device id [EDGELOOP_DEVICE_ID]'),
    token: flag('<secret>', "the device's MQTT password [EDGELOOP_TOKEN]"),
    profile: flag('<id|path>', 'device class or profile file [EDGELOOP_PROFILE]'),
    cloud: flag('<url>', 'cloud HTTP API (fetches and pins signing keys) [EDGELOOP_CLOUD_URL]'),
    broker: flag('<url>', 'MQTT broker [EDGELOOP_BROKER_URL, MQTT_URL]'),
    'data-dir': flag('<path>', 'models, downloads, telemetry queue [EDGELOOP_DATA_DIR]'),
    'trusted-key': flag('<base64>', 'Ed25519 public key to trust; repeatable', true),
    'api-host': flag('<host>', 'local API host [EDGELOOP_API_HOST]'),
    'api-port': flag('<port>', 'local API port, 0 = any free [EDGELOOP_API_PORT]'),
  },
  details: 'Local API: POST /infer (image bytes), GET /healthz, GET /metrics.',
  run: ({ values, io }) => runAgentCli(['start', ...toArgs(values)], agentIo(io)),
};

function toArgs(values: Record<string, unknown>): string[] {
  const args: string[] = [];
  for (const [name, value] of Object.entries(values)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (typeof v === 'string') args.push(`--${name}`, v);
    }
  }
  return args;
}

function agentIo(io: CliIO) {
  return {
    stdout: (text: string) => io.out(text),
    stderr: (text: string) => io.err(text),
    env: io.env,
    ...(io.stop
      ? {
          untilSignal: () =>
            new Promise<void>((resolve) => {
              if (io.stop?.aborted) resolve();
              else io.stop?.addEventListener('abort', () => resolve(), { once: true });
            }),
        }
      : {}),
  };
}
