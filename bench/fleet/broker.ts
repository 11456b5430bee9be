// Leaves the shared Mosquitto as the bench found it. The agents publish retained `status` and
// `reported`, the cloud retained `desired`, for every device; Mosquitto persists them, and every later
// subscriber to `el/v1/dev/+/…` would receive thousands of messages about devices that are gone. The
// cloud also keeps a persistent session (1 h expiry) in its share group: left behind, it
// would keep queueing telemetry of the devices while nobody reads it.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connectCloudMqtt } from '@edgeloop/cloud';
import { topics } from '@edgeloop/shared';

/** The client id `startCloud` uses for a data dir (cloud.ts `cloudClientId`). */
function cloudClientId(dataDir: string): string {
  const key = createHash('sha256')
    .update(`${hostname()}\0${resolve(dataDir)}`)
    .digest('hex');
  return `edgeloop-cloud-${key.slice(0, 16)}`;
}

/** Clears the devices' retained messages and ends the cloud's session; returns the topics cleared. */
export async function cleanUpBroker(
  mqttUrl: string,
  cloudDataDir: string,
  deviceIds: string[],
): Promise<number> {
  // A clean start under the cloud's client id discards the session it left.
  const session = await connectCloudMqtt({ url: mqttUrl, clientId: cloudClientId(cloudDataDir) });
  await session.close();
  const conn = await connectCloudMqtt({ url: mqttUrl });
  let cleared = 0;
  try {
    const pending: Promise<void>[] = [];
    for (const id of deviceIds) {
      for (const topic of [topics.status(id), topics.reported(id), topics.desired(id)]) {
        // An empty retained message deletes the retained one.
        pending.push(conn.publish(topic, '', { qos: 1, retain: true }));
        cleared++;
        if (pending.length >= 500) await Promise.all(pending.splice(0));
      }
    }
    await Promise.all(pending);
  } finally {
    await conn.close();
  }
  return cleared;
}

/**
 * A private Mosquitto for the run, on its own port with its own config file (the shared one in /etc
 * is left alone): the cloud's subscriber queue raised from Mosquitto's default of 1,000 messages
 * (which drops `status`/`reported`/telemetry during a ramp of a thousand agents), no persistence, no
 * connection limit. Ended (SIGTERM, then SIGKILL) by `stop()`; its log stays in `dir` until then.
 */
export interface PrivateBroker {
  url: string;
  configFile: string;
  config: string;
  pid: number;
  /** Its error/warning log so far: lines, lines about dropped messages, the last few. */
  log: { lines: number; dropped: number; last: string[] };
  stop(): Promise<void>;
}

export async function startPrivateMosquitto(port: number, maxQueued: number): Promise<PrivateBroker> {
  const dir = await mkdtemp(join(tmpdir(), 'edgeloop-bench-mosquitto-'));
  const configFile = join(dir, 'mosquitto.conf');
  const config = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    `max_queued_messages ${maxQueued}`,
    'max_connections -1',
    'set_tcp_nodelay true',
    // stderr, read by the bench: Mosquitto drops root for its own user, who cannot write in `dir`.
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    '',
  ].join('\n');
  await writeFile(configFile, config);
  const child = spawn('mosquitto', ['-c', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  const log = { lines: 0, dropped: 0, last: [] as string[] };
  let partial = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      log.lines++;
      if (/dropp/i.test(line)) log.dropped++;
      log.last.push(line);
      if (log.last.length > 5) log.last.shift();
    }
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // However the bench ends (an uncaught error included), the broker must not outlive it.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const stop = async () => {
    process.off('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await rm(dir, { recursive: true, force: true });
  };
  // Ready when the port accepts a connection.
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) throw new Error(`mosquitto -c ${configFile} exited (${child.exitCode})`);
    const ok = await new Promise<boolean>((resolveConnect) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolveConnect(true);
      });
      socket.once('error', () => resolveConnect(false));
    });
    if (ok) break;
    if (attempt > 50) {
      await stop();
      throw new Error(`mosquitto on port ${port} did not start`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url: `mqtt://127.0.0.1:${port}`, configFile, config, pid: child.pid ?? 0, log, stop };
}
