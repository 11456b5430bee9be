// A fleet of real edge agents in one process: each device has its own identity, data dir, MQTT
// session, profile and synthetic camera. Frames go straight into the agent's inference (no HTTP),
// so the agent's telemetry, health checks and updates see the same traffic a real camera would make.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveProfile } from '@edgeloop/firmware-configs';
import { type DeviceProfile, EdgeloopError, type ModelRef } from '@edgeloop/shared';
import { type AgentHandle, startAgent } from '../agent.ts';
import type { AgentConfigInput } from '../config.ts';
import type { AgentLogger } from '../log.ts';
import { SyntheticCamera } from './camera.ts';
import {
  CorruptibleFrameSource,
  type FrameCorruption,
  type FrameTransform,
  seededRandom,
} from './corruption.ts';
import { type ClassShare, planDevices, type SimulatedDeviceInfo, simulatedProfile } from './device-plan.ts';
import { accuracyOf, addCounts, DeviceStats, emptyCounts, type FrameCounts } from './device-stats.ts';
import type { Frame, FrameSource } from './frame-source.ts';
import type { DeviceProvisioner } from './provisioner.ts';

export interface SimulatedFleetOptions {
  devices: number;
  /** Device ids are `<idPrefix>-0000`, `<idPrefix>-0001`, … (default "sim"). */
  idPrefix?: string;
  firstIndex?: number;
  /** Each device keeps its agent state under `<dataDir>/devices/<id>`. */
  dataDir: string;
  provisioner: DeviceProvisioner;
  /** Default: the broker the provisioner reported for each device. */
  brokerUrl?: string;
  /** Lets agents fetch and pin the signing keys at first start when `trustedKeys` is empty. */
  cloudUrl?: string;
  trustedKeys?: string[];
  /** Default: all `simulated`. */
  classes?: readonly ClassShare[];
  group?: string;
  tags?: string[];
  /** Each device's camera feed. */
  frames: (device: SimulatedDeviceInfo) => FrameSource;
  /** Needed for `setCorruption`; applies a corruption to a frame. */
  transform?: FrameTransform;
  fps?: number;
  jitter?: number;
  /** Seeds each device's schedule and corruption noise (with its index). */
  seed?: number;
  tuning?: AgentConfigInput['tuning'];
  logger?: (device: SimulatedDeviceInfo) => AgentLogger;
  /** Profile lookup by class id (default: the built-in firmware-configs). */
  resolveProfile?: (deviceClass: string) => Promise<DeviceProfile>;
  /** Devices provisioned and started at once. */
  startConcurrency?: number;
}

export interface SimulatedDeviceStats extends FrameCounts {
  deviceId: string;
  deviceClass: string;
  connected: boolean;
  model: ModelRef | null;
  corruption: FrameCorruption | null;
  accuracy: number | null;
  meanInputLevel: number | null;
  totalInferences: number;
}

export interface FleetStats extends FrameCounts {
  devices: number;
  connected: number;
  /** Devices per serving model, keyed `name@version/variant` ("none" before the first model). */
  models: Record<string, number>;
  accuracy: number | null;
  totalInferences: number;
}

export type DeviceSelector = readonly string[] | ((device: SimulatedDeviceInfo) => boolean);

interface SimulatedDevice {
  info: SimulatedDeviceInfo;
  agent: AgentHandle;
  frames: CorruptibleFrameSource;
  camera: SyntheticCamera;
  stats: DeviceStats;
}

export class SimulatedFleet {
  readonly #devices: SimulatedDevice[];
  readonly #byId: Map<string, SimulatedDevice>;
  #stopping: Promise<void> | null = null;

  private constructor(
    devices: SimulatedDevice[],
    private readonly transform: FrameTransform | undefined,
  ) {
    this.#devices = devices;
    this.#byId = new Map(devices.map((d) => [d.info.deviceId, d]));
  }

  /**
   * Provisions and starts every device, then starts the cameras. If any device fails to start,
   * those already started are stopped and the error is thrown.
   *
   * @example
   * const fleet = await SimulatedFleet.start({ devices: 100, dataDir: '.edgeloop/sim',
   *   provisioner: new HttpDeviceProvisioner({ cloudUrl, apiToken, credentialsDir }),
   *   cloudUrl, frames: () => new FrameCycle(frames), fps: 1 });
   * fleet.setCorruption((d) => d.index % 10 === 0, { kind: 'blur', severity: 0.8 });
   */
  static async start(options: SimulatedFleetOptions): Promise<SimulatedFleet> {
    const plan = planDevices({
      count: options.devices,
      idPrefix: options.idPrefix ?? 'sim',
      ...(options.firstIndex === undefined ? {} : { firstIndex: options.firstIndex }),
      classes: options.classes ?? [{ deviceClass: 'simulated', weight: 1 }],
    });
    const profiles = await loadProfiles(plan, options.resolveProfile ?? resolveProfile);
    const started: SimulatedDevice[] = [];
    try {
      await eachLimited(plan, options.startConcurrency ?? 8, async (info) => {
        started.push(await startDevice(info, profiles.get(info.deviceClass) as DeviceProfile, options));
      });
    } catch (err) {
      await Promise.allSettled(started.map((d) => d.agent.stop()));
      throw err;
    }
    started.sort((a, b) => a.info.index - b.info.index);
    for (const device of started) device.camera.start();
    return new SimulatedFleet(started, options.transform);
  }

  get devices(): SimulatedDeviceInfo[] {
    return this.#devices.map((d) => d.info);
  }

  agent(deviceId: string): AgentHandle | undefined {
    return this.#find(deviceId)?.agent;
  }

  /**
   * Switches a corruption on (or off, with null) for the selected devices from their next frame,
   * and restarts their accuracy count so it measures the new condition. Returns the ids affected.
   */
  setCorruption(selector: DeviceSelector, corruption: FrameCorruption | null): string[] {
    if (corruption && !this.transform) {
      throw new EdgeloopError('VALIDATION_FAILED', 'this fleet was started without a frame transform');
    }
    if (typeof selector !== 'function') {
      const unknown = selector.filter((id) => !this.#find(id));
      if (unknown.length > 0)
        throw new EdgeloopError('NOT_FOUND', `not in this fleet: ${unknown.join(', ')}`);
    }
    const ids = typeof selector === 'function' ? null : new Set(selector);
    const wanted =
      typeof selector === 'function' ? selector : (d: SimulatedDeviceInfo) => ids?.has(d.deviceId);
    const selected = this.#devices.filter((d) => wanted(d.info));
    for (const device of selected) {
      device.frames.setCorruption(corruption);
      device.stats.reset();
    }
    return selected.map((d) => d.info.deviceId);
  }

  deviceStats(deviceId: string): SimulatedDeviceStats {
    const device = this.#find(deviceId);
    if (!device) throw new EdgeloopError('NOT_FOUND', `not in this fleet: ${deviceId}`);
    return describe(device);
  }

  allDeviceStats(): SimulatedDeviceStats[] {
    return this.#devices.map(describe);
  }

  stats(): FleetStats {
    const totals = emptyCounts();
    const models: Record<string, number> = {};
    let connected = 0;
    let totalInferences = 0;
    for (const view of this.allDeviceStats()) {
      addCounts(totals, view);
      totalInferences += view.totalInferences;
      if (view.connected) connected++;
      const key = view.model ? `${view.model.name}@${view.model.version}/${view.model.variant}` : 'none';
      models[key] = (models[key] ?? 0) + 1;
    }
    return {
      ...totals,
      devices: this.#devices.length,
      connected,
      models,
      accuracy: accuracyOf(totals),
      totalInferences,
    };
  }

  /**
   * Holds every camera (frames in flight finish first). With `flushTelemetry` this gives exact
   * windows: nothing is classified between the flush and `resume`.
   */
  async pause(): Promise<void> {
    await Promise.all(this.#devices.map((d) => d.camera.stop()));
  }

  resume(): void {
    if (this.#stopping) return;
    for (const device of this.#devices) device.camera.start();
  }

  /** Ends every device's current telemetry window now (tests, and the demo's "show me" moments). */
  async flushTelemetry(): Promise<void> {
    await Promise.all(this.#devices.map((d) => d.agent.flushTelemetry()));
  }

  /** Stops the cameras (letting frames in flight finish), then the agents, gracefully. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await Promise.all(this.#devices.map((d) => d.camera.stop()));
      await eachLimited(this.#devices, 32, (d) => d.agent.stop());
    })();
    return this.#stopping;
  }

  #find(deviceId: string): SimulatedDevice | undefined {
    return this.#byId.get(deviceId);
  }
}

async function startDevice(
  info: SimulatedDeviceInfo,
  profile: DeviceProfile,
  options: SimulatedFleetOptions,
): Promise<SimulatedDevice> {
  const credentials = await options.provisioner.provision({
    deviceId: info.deviceId,
    deviceClass: info.deviceClass,
    ...(options.group ? { group: options.group } : {}),
    ...(options.tags ? { tags: options.tags } : {}),
  });
  const brokerUrl = options.brokerUrl ?? credentials.brokerUrl;
  if (!brokerUrl) {
    throw new EdgeloopError('VALIDATION_FAILED', `no broker URL for ${info.deviceId}: give brokerUrl`);
  }
  const dataDir = join(options.dataDir, 'devices', info.deviceId);
  await mkdir(dataDir, { recursive: true });
  const logger = options.logger?.(info);
  const agent = await startAgent(
    {
      deviceId: info.deviceId,
      token: credentials.token,
      brokerUrl,
      ...(options.cloudUrl ? { cloudUrl: options.cloudUrl } : {}),
      profile: info.deviceClass,
      dataDir,
      trustedKeys: options.trustedKeys ?? [],
      // Port 0: a thousand agents in one process each get a free port for their local API.
      api: { host: '127.0.0.1', port: 0 },
      ...(options.tuning ? { tuning: options.tuning } : {}),
    },
    { profile, ...(logger ? { logger } : {}) },
  );
  const random = seededRandom((options.seed ?? 1) * 100_003 + info.index);
  const frames = new CorruptibleFrameSource(
    options.frames(info),
    options.transform ?? ((frame: Frame) => frame),
    random,
  );
  const stats = new DeviceStats();
  const device: SimulatedDevice = {
    info,
    agent,
    frames,
    stats,
    camera: new SyntheticCamera({
      source: frames,
      fps: options.fps ?? 1,
      ...(options.jitter === undefined ? {} : { jitter: options.jitter }),
      random,
      deliver: (frame) => classify(device, frame),
      onDropped: () => {
        stats.counts.dropped++;
      },
    }),
  };
  return device;
}

/** One frame through the agent. A device without a model yet is idle rather than failing: the
 * agent would count each such frame as an error in its telemetry, which is not what a camera
 * waiting for its first model means. */
async function classify(device: SimulatedDevice, frame: Frame): Promise<void> {
  if (!device.agent.status().model) {
    device.stats.counts.idle++;
    return;
  }
  device.stats.frameOffered(frame.image);
  try {
    // The frame's true class rides along: retraining samples from simulated devices carry it.
    const options = frame.label === undefined ? {} : { label: frame.label };
    device.stats.inferred(await device.agent.infer(frame.image, 1, options), frame.label);
  } catch {
    // The agent has already counted it (metrics, telemetry errors); the simulator counts it too.
    device.stats.counts.errors++;
  }
}

function describe(device: SimulatedDevice): SimulatedDeviceStats {
  const { counts } = device.stats;
  const status = device.agent.status();
  return {
    deviceId: device.info.deviceId,
    deviceClass: device.info.deviceClass,
    connected: status.connected,
    model: status.model,
    corruption: device.frames.corruption,
    ...counts,
    accuracy: accuracyOf(counts),
    meanInputLevel: device.stats.meanInputLevel,
    totalInferences: device.stats.totalInferences,
  };
}

async function loadProfiles(
  plan: readonly SimulatedDeviceInfo[],
  resolve: (deviceClass: string) => Promise<DeviceProfile>,
): Promise<Map<string, DeviceProfile>> {
  const profiles = new Map<string, DeviceProfile>();
  for (const deviceClass of new Set(plan.map((d) => d.deviceClass))) {
    profiles.set(deviceClass, simulatedProfile(await resolve(deviceClass)));
  }
  return profiles;
}

/**
 * Runs `task` over `items` with at most `limit` in flight. After a failure no new item is started;
 * it settles once the tasks in flight have, then rejects with the first error — so a caller that
 * cleans up afterwards sees every device that did start.
 */
async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | null = null;
  const worker = async () => {
    while (!failure && next < items.length) {
      try {
        await task(items[next++] as T);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw (failure as { err: unknown }).err;
}
