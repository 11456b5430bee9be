// Test helpers for broker tests: free ports, a throwaway Mosquitto, message collectors.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import type { MqttClient } from 'mqtt';

export const MOSQUITTO_BINARY = '/usr/sbin/mosquitto';
export const hasMosquitto = () => existsSync(MOSQUITTO_BINARY);

/** Asks the OS for a port nobody is listening on (tiny race with other processes; fine for tests). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface RunningMosquitto {
  process: ChildProcess;
  log: () => string;
  stop(): Promise<void>;
}

/** Starts /usr/sbin/mosquitto with a config file and resolves once it listens. */
export async function startMosquitto(confFile: string, timeoutMs = 5_000): Promise<RunningMosquitto> {
  const child = spawn(MOSQUITTO_BINARY, ['-c', confFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mosquitto did not start:\n${output}`)), timeoutMs);
    const check = () => {
      if (/mosquitto version [\d.]+ running/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`mosquitto exited with ${code}:\n${output}`));
    });
  });
  return {
    process: child,
    log: () => output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Collects every message a client receives, with a way to wait for one matching a predicate. */
export function collectMessages(client: MqttClient) {
  const messages: Array<{ topic: string; payload: string; retain: boolean }> = [];
  const waiters: Array<() => void> = [];
  client.on('message', (topic, payload, packet) => {
    messages.push({ topic, payload: payload.toString(), retain: packet.retain });
    for (const wake of waiters.splice(0)) wake();
  });
  return {
    messages,
    async waitFor(
      predicate: (m: { topic: string; payload: string }) => boolean,
      timeoutMs = 3_000,
    ): Promise<{ topic: string; payload: string }> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.find(predicate);
        if (found) return found;
        const left = deadline - Date.now();
        if (left <= 0)
          throw new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(messages)}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
  };
}

/** A prefix-free unique suffix so parallel test runs on a shared broker never see each other's topics. */
export const uniqueSuffix = () =>
  `${process.pid.toString(36)}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
