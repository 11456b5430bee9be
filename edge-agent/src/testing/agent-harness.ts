// Shared set-up for agent integration tests: one broker and one fake cloud per test file, agents
// started with short waits and stopped (and their data removed) after each test.
import { rm } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { type AgentDependencies, type AgentHandle, startAgent } from '../agent.ts';
import type { AgentConfigInput } from '../config.ts';
import type { InferResponse } from '../local-api.ts';
import { jsonLinesLogger } from '../log.ts';
import { TEST_PROFILE, testAgentConfig, testDataDir } from './agent-fixtures.ts';
import { startTestBroker, type TestBroker } from './broker.ts';
import { FakeCloud } from './fake-cloud.ts';
import { type TestSigningKey, testSigningKey } from './fixtures.ts';

export interface AgentHarness {
  readonly broker: TestBroker;
  readonly cloud: FakeCloud;
  readonly key: TestSigningKey;
  /**
   * Starts an agent; `dataDir` and `deviceId` may be reused to model a restart. `deps` may swap the
   * test profile or add test seams.
   */
  agent(
    overrides?: Partial<AgentConfigInput>,
    deps?: Pick<AgentDependencies, 'profile' | 'updateHooks'>,
  ): Promise<{ agent: AgentHandle; deviceId: string; dataDir: string }>;
}

/** Registers the hooks; call at the top of a test file. */
export function useAgentHarness(): AgentHarness {
  const key = testSigningKey();
  const trustedKeys = [Buffer.from(key.publicRaw).toString('base64')];
  const agents: AgentHandle[] = [];
  const dirs = new Set<string>();
  let broker: TestBroker | undefined;
  let cloud: FakeCloud | undefined;

  beforeAll(async () => {
    broker = await startTestBroker();
    cloud = await FakeCloud.connect(broker.url);
  });
  afterEach(async () => {
    for (const agent of agents.splice(0).reverse()) await agent.stop();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    dirs.clear();
    if (cloud) {
      cloud.faults = {};
      cloud.silent = false;
      cloud.chunksSent.clear();
    }
  });
  afterAll(async () => {
    await cloud?.close();
    await broker?.close();
  });

  return {
    get broker() {
      if (!broker) throw new Error('harness used outside a test');
      return broker;
    },
    get cloud() {
      if (!cloud) throw new Error('harness used outside a test');
      return cloud;
    },
    key,
    async agent(overrides = {}, deps = {}) {
      const dataDir = overrides.dataDir ?? (await testDataDir());
      dirs.add(dataDir);
      const config = testAgentConfig({ brokerUrl: this.broker.url, dataDir, trustedKeys, ...overrides });
      // EDGELOOP_TEST_LOG=1 prints the agents' structured logs while debugging a test.
      const logger = process.env['EDGELOOP_TEST_LOG']
        ? jsonLinesLogger({ deviceId: config.deviceId })
        : undefined;
      const agent = await startAgent(config, {
        profile: TEST_PROFILE,
        ...deps,
        ...(logger ? { logger } : {}),
      });
      agents.push(agent);
      return { agent, deviceId: config.deviceId as string, dataDir };
    },
  };
}

export async function infer(
  agent: AgentHandle,
  image: Uint8Array,
): Promise<{ status: number; body: Partial<InferResponse> & { error?: { code: string } } }> {
  const response = await fetch(`${agent.localUrl}/infer`, { method: 'POST', body: image });
  return {
    status: response.status,
    body: (await response.json()) as Partial<InferResponse> & { error?: { code: string } },
  };
}
