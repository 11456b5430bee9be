import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentCliIo, runAgentCli } from './cli.ts';
import { testDataDir, uniqueDeviceId } from './testing/agent-fixtures.ts';
import { startTestBroker, type TestBroker } from './testing/broker.ts';
import { testSigningKey } from './testing/fixtures.ts';

function io(env: Record<string, string | undefined> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const cliIo: AgentCliIo = {
    stdout: (t: string) => out.push(t),
    stderr: (t: string) => err.push(t),
    env,
    untilSignal: async () => undefined,
  };
  return { out, err, io: cliIo };
}

let broker: TestBroker;
beforeAll(async () => {
  broker = await startTestBroker();
});
afterAll(async () => {
  await broker.close();
});

describe('edgeloop agent CLI', () => {
  it('prints help', async () => {
    const run = io();
    expect(await runAgentCli(['start', '--help'], run.io)).toBe(0);
    expect(run.out.join('')).toContain('--device-id');
  });

  it('refuses unknown flags and a bad configuration with a message naming the field', async () => {
    const unknown = io();
    expect(await runAgentCli(['start', '--colour', 'red'], unknown.io)).toBe(2);
    expect(unknown.err.join('')).toMatch(/colour/);
    const bad = io();
    expect(await runAgentCli(['start', '--device-id', 'Bad Id', '--token', 't'], bad.io)).toBe(2);
    expect(bad.err.join('')).toMatch(/VALIDATION_FAILED: .*deviceId \(--device-id/);
  });

  it('starts an agent from flags and environment, serves its API, and stops on the signal', async () => {
    const dataDir = await testDataDir();
    const run = io({ EDGELOOP_TOKEN: 'from-env' });
    const key = Buffer.from(testSigningKey().publicRaw).toString('base64');
    let healthz = 0;
    run.io.untilSignal = async (agent) => {
      healthz = (await fetch(`${agent.localUrl}/healthz`)).status;
    };
    const code = await runAgentCli(
      [
        'start',
        '--device-id',
        uniqueDeviceId('cli'),
        '--profile',
        'simulated',
        '--broker',
        broker.url,
        '--data-dir',
        dataDir,
        '--trusted-key',
        key,
        '--api-port',
        '0',
      ],
      run.io,
    );
    expect(code).toBe(0);
    expect(run.out.join('')).toMatch(/serving on http:\/\/127\.0\.0\.1:\d+/);
    expect(healthz).toBe(503); // no model yet
    await rm(dataDir, { recursive: true, force: true });
  });
});
