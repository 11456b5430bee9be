// `edgeloop sim`: the fleet simulator composed with the cloud's datasets. Cameras show digits from the
// MNIST test split (never seen in training), optionally corrupted with the same transforms the cloud
// uses to build drift datasets, so what the simulator injects is what the drift detector was built
// to find. The agents themselves know nothing of the cloud: they meet it over HTTP and MQTT only.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type CliCommand,
  type CliIO,
  CliUsageError,
  type CliValues,
  CORRUPTION_KINDS,
  CORRUPTIONS,
  type CorruptionKind,
  EXIT,
  type ImageShape,
  type LabelledImages,
  loadMnistDataset,
} from '@edgeloop/cloud';
import {
  type ClassShare,
  FleetMeter,
  type Frame,
  FrameCycle,
  type FrameTransform,
  formatSummary,
  HttpDeviceProvisioner,
  parseClassMix,
  type RawImage,
  SimulatedFleet,
  type SimulatedFleetOptions,
} from '@edgeloop/edge-agent';

/** Same default as the cloud CLI: the quick start's API on this machine. */
const DEFAULT_CLOUD_URL = 'http://127.0.0.1:8080';

export interface InitialCorruption {
  kind: CorruptionKind;
  severity: number;
  /** Share of the fleet, taken from the first device on. */
  fraction: number;
}

export interface DigitsFleetOptions
  extends Omit<SimulatedFleetOptions, 'frames' | 'transform' | 'provisioner' | 'cloudUrl'> {
  cloudUrl: string;
  /** An operator or admin API token, used to provision the devices. */
  apiToken: string;
  rotateCredentials?: boolean;
  corruption?: InitialCorruption;
}

/**
 * Starts a simulated fleet whose cameras show MNIST test digits (with their labels), provisioned
 * through the cloud's device API. `pnpm start` and the end-to-end tests call this directly.
 *
 * @example
 * const fleet = await startDigitsFleet({ cloudUrl, apiToken, devices: 20, dataDir: '.edgeloop/sim' });
 * fleet.setCorruption((d) => d.index < 5, { kind: 'blur', severity: 0.8 });
 */
export async function startDigitsFleet(options: DigitsFleetOptions): Promise<SimulatedFleet> {
  const { apiToken, rotateCredentials, corruption, ...fleetOptions } = options;
  const digits = digitFrames(loadMnistDataset().test);
  const fleet = await SimulatedFleet.start({
    ...fleetOptions,
    provisioner: new HttpDeviceProvisioner({
      cloudUrl: options.cloudUrl,
      apiToken,
      credentialsDir: join(options.dataDir, 'credentials'),
      ...(rotateCredentials ? { rotate: true } : {}),
    }),
    // A different starting digit per device, so the fleet does not show one digit in unison.
    frames: (device) => new FrameCycle(digits, device.index * 7919),
    transform: datasetCorruption,
  });
  if (corruption) {
    const count = Math.round(corruption.fraction * fleet.devices.length);
    fleet.setCorruption((device) => device.index - (options.firstIndex ?? 0) < count, corruption);
  }
  return fleet;
}

/** The test split as raw 8-bit grey frames: the agent's preprocessor takes them without a decode. */
export function digitFrames(split: LabelledImages): Frame[] {
  const side = 28;
  const pixels = side * side;
  return Array.from({ length: split.count }, (_, i) => {
    const values = split.images.subarray(i * pixels, (i + 1) * pixels);
    const data = Uint8Array.from(values, (v) => Math.round(v * 255));
    const image: RawImage = { data, width: side, height: side, channels: 1 };
    return { image, label: split.labels[i] as number };
  });
}

/** Applies one of the cloud's dataset corruptions (0..1 CHW floats) to a raw interleaved frame. */
export const datasetCorruption: FrameTransform = (frame, { kind, severity }, random) => {
  if (!(CORRUPTION_KINDS as readonly string[]).includes(kind)) {
    throw new RangeError(`unknown corruption "${kind}" (one of ${CORRUPTION_KINDS.join(', ')})`);
  }
  if (frame.image instanceof Uint8Array) {
    throw new RangeError('dataset corruptions need raw frames, not encoded images');
  }
  const { data, width, height, channels } = frame.image;
  const shape: ImageShape = { channels, height, width };
  const plane = width * height;
  const chw = new Float32Array(data.length);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < channels; c++) chw[c * plane + p] = (data[p * channels + c] as number) / 255;
  }
  const corrupted = CORRUPTIONS[kind as CorruptionKind](chw, shape, severity, random);
  const out = new Uint8Array(data.length);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < channels; c++)
      out[p * channels + c] = Math.round((corrupted[c * plane + p] as number) * 255);
  }
  return { ...frame, image: { data: out, width, height, channels } };
};

/** `kind:severity:fraction`, e.g. `blur:0.8:0.25` (a quarter of the fleet, strongly blurred). */
export function parseCorruption(text: string): InitialCorruption {
  const [kind = '', severityText = '', fractionText = '1'] = text.split(':');
  const severity = Number(severityText);
  const fraction = Number(fractionText);
  if (!(CORRUPTION_KINDS as readonly string[]).includes(kind)) {
    throw new CliUsageError(`--corrupt: unknown kind "${kind}" (one of ${CORRUPTION_KINDS.join(', ')})`);
  }
  if (severityText === '' || !(severity >= 0 && severity <= 1) || !(fraction >= 0 && fraction <= 1)) {
    throw new CliUsageError(`--corrupt ${text}: expected kind:severity:fraction, both numbers in 0..1`);
  }
  return { kind: kind as CorruptionKind, severity, fraction };
}

function str(values: CliValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

function positiveNumber(values: CliValues, name: string, fallback: number, max: number): number {
  const text = str(values, name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!(value > 0 && value <= max)) throw new CliUsageError(`--${name} must be a number in (0, ${max}]`);
  return value;
}

/** `edgeloop start` keeps its admin token in `<data-dir>/admin-token` (see `edgeloop start --help`). */
function quickStartToken(env: Record<string, string | undefined>): string | undefined {
  try {
    return (
      readFileSync(join(env.EDGELOOP_DATA_DIR || './.edgeloop', 'admin-token'), 'utf8').trim() || undefined
    );
  } catch {
    return undefined;
  }
}

function optionsFrom(values: CliValues, io: CliIO): DigitsFleetOptions {
  const devices = positiveNumber(values, 'devices', 10, 100_000);
  if (!Number.isInteger(devices)) throw new CliUsageError('--devices must be a whole number');
  const apiToken = str(values, 'token') ?? io.env.EDGELOOP_TOKEN ?? quickStartToken(io.env);
  if (!apiToken) {
    throw new CliUsageError(
      'an operator token is needed: --token, EDGELOOP_TOKEN, or run `edgeloop start` here',
    );
  }
  let classes: ClassShare[];
  try {
    classes = parseClassMix(str(values, 'classes') ?? 'simulated');
  } catch (err) {
    throw new CliUsageError(`--classes: ${(err as Error).message}`);
  }
  const corrupt = str(values, 'corrupt');
  const broker = str(values, 'broker');
  const group = str(values, 'group');
  return {
    devices,
    cloudUrl: str(values, 'cloud') ?? io.env.EDGELOOP_CLOUD ?? DEFAULT_CLOUD_URL,
    apiToken,
    dataDir: str(values, 'data-dir') ?? join(io.env.EDGELOOP_DATA_DIR || './.edgeloop', 'sim'),
    idPrefix: str(values, 'prefix') ?? 'sim',
    classes,
    fps: positiveNumber(values, 'fps', 1, 1000),
    seed: positiveNumber(values, 'seed', 1, 2 ** 31),
    ...(broker ? { brokerUrl: broker } : {}),
    ...(group ? { group } : {}),
    ...(corrupt ? { corruption: parseCorruption(corrupt) } : {}),
    ...(values.rotate === true ? { rotateCredentials: true } : {}),
  };
}

export const simCommand: CliCommand = {
  path: ['sim'],
  summary: 'run a simulated fleet of real edge agents against a cloud until Ctrl-C',
  options: {
    devices: { type: 'string', value: '<n>', help: 'how many devices (10)' },
    cloud: {
      type: 'string',
      value: '<url>',
      help: `cloud API URL (EDGELOOP_CLOUD; default ${DEFAULT_CLOUD_URL})`,
    },
    token: {
      type: 'string',
      value: '<token>',
      help: 'operator API token (EDGELOOP_TOKEN; default: the quick-start token in ./.edgeloop)',
    },
    broker: { type: 'string', value: '<url>', help: 'MQTT broker (default: the one the cloud names)' },
    classes: {
      type: 'string',
      value: '<list>',
      help: 'device classes and weights, e.g. simulated:3,raspberry-pi-4 (simulated)',
    },
    fps: { type: 'string', value: '<n>', help: 'camera frames per second per device (1)' },
    corrupt: {
      type: 'string',
      value: '<kind:severity:fraction>',
      help: `corrupt the first fraction of devices from the start; kinds: ${CORRUPTION_KINDS.join(', ')}`,
    },
    group: { type: 'string', value: '<group>', help: 'put new devices in this group (must exist)' },
    prefix: { type: 'string', value: '<prefix>', help: 'device ids are <prefix>-0000, … (sim)' },
    'data-dir': {
      type: 'string',
      value: '<dir>',
      help: 'agent state and device passwords (./.edgeloop/sim)',
    },
    seed: { type: 'string', value: '<n>', help: 'seeds schedules and corruption noise (1)' },
    rotate: { type: 'boolean', help: 'issue new passwords even for devices known from a previous run' },
  },
  details:
    'Devices are provisioned through the cloud API on first run; their passwords are kept in the\n' +
    'data dir, so a second run reconnects the same devices. Frames are MNIST test digits.',
  async run({ values, io }) {
    const options = optionsFrom(values, io);
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    io.stop?.addEventListener('abort', onSignal);
    if (!io.stop) {
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
    }
    try {
      io.out(`starting ${options.devices} simulated devices against ${options.cloudUrl} …\n`);
      const fleet = await startDigitsFleet(options);
      io.out(`${fleet.devices.length} devices running; Ctrl-C stops them.\n`);
      const meter = new FleetMeter();
      const timer = setInterval(() => io.out(`${formatSummary(meter.sample(fleet))}\n`), 5000);
      if (!stop.signal.aborted) {
        await new Promise<void>((resolve) =>
          stop.signal.addEventListener('abort', () => resolve(), { once: true }),
        );
      }
      clearInterval(timer);
      io.out(`${formatSummary(meter.sample(fleet))}\nstopping the simulated devices …\n`);
      await fleet.stop();
      io.out('stopped.\n');
      return EXIT.ok;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  },
};
