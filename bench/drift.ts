// `pnpm bench drift [--epochs N] [--seeds N] [--stationary N]`: how fast and how reliably the drift
// detector notices a changed camera, and what it costs, on the real default model:
//
//   1. the digits CNN is trained and registered by the real pipeline (its reference profile comes
//      from the validation split, as at every registration);
//   2. detection delay: per corruption kind × severity (the cloud's dataset corruptions, the ones
//      the simulator injects), windows of 60 inferences drawn from the corrupted test split after
//      10 clean windows; windows until the detector (5-window sliding merge, 2-of-3 hysteresis)
//      reaches `alert`, over several seeded streams; the champion's top-1 on that stream alongside;
//   3. false alarms: 1,000 stationary windows from the clean test split (target ≤ 1 %);
//   4. telemetry bytes per device-hour: real telemetry messages with sketches, one window a minute
//      (target ≤ 50 KB);
//   5. sketch merge time: merging one window into a running merge, and merging 1,000 windows.
//
// `pnpm bench drift --loop [--devices 50] [--timeout S]` measures the retrain half of the story
// instead, end to end on a real cloud and a simulated fleet (bench/drift/loop.ts): seconds from drift
// onset to alert, retraining run, challenger, promotion and the drifted devices serving the new
// champion (target ≤ 600 s), and their accuracy before and after. Each half keeps the other's
// results in bench/results/drift.json (the loop's under `loop`).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CORRUPTION_KINDS, type CorruptionKind } from '@edgeloop/cloud';
import { DriftDetector, telemetryWindowPayload, type WindowSketch } from '@edgeloop/shared';
import { runLoop } from './drift/loop.ts';
import { trainWatchedModel, type WatchedModel } from './drift/model.ts';
import { corruptedSplit, type ObservedImages, observeSplit, WindowStream } from './drift/observe.ts';

const here = dirname(fileURLToPath(import.meta.url));
const RESULTS = join(here, 'results', 'drift.json');
const PER_WINDOW = 60;
const CLEAN_WINDOWS = 10;
const MAX_WINDOWS = 30;
const SEVERITIES = [0.1, 0.25, 0.5, 1];
const TARGETS = { falseAlarmRate: 0.01, bytesPerDeviceHour: 50 * 1024 };

interface DelayRow {
  corruption: CorruptionKind;
  severity: number;
  /** Windows from onset to `alert`, per seed; null: no alert within MAX_WINDOWS. */
  windows: (number | null)[];
  median_windows: number | null;
  top1_on_stream: number;
  most_drifted: string[];
}

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted.length === 0 ? null : (sorted[Math.floor((sorted.length - 1) / 2)] as number);
};
const accuracy = (observed: ObservedImages) =>
  observed.correct.filter(Boolean).length / observed.correct.length;

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      epochs: { type: 'string', default: '2' },
      seeds: { type: 'string', default: '3' },
      stationary: { type: 'string', default: '1000' },
      loop: { type: 'boolean', default: false },
      devices: { type: 'string', default: '50' },
      timeout: { type: 'string', default: '1200' },
    },
  });
  if (values.loop) {
    await runLoopBench(Number(values.devices), Number(values.timeout));
    return;
  }
  const epochs = Number(values.epochs);
  const seeds = Number(values.seeds);
  const stationaryWindows = Number(values.stationary);
  const say = (line: string) => console.log(line);

  say(`Training the default digits model (${epochs} epochs) through the pipeline...`);
  const model = await trainWatchedModel(epochs, say);
  try {
    say(`  trained and registered in ${model.trainSeconds.toFixed(1)} s`);
    const clean = await observeSplit(model, model.dataset.test);
    say(`  champion top-1 on the clean test split: ${(100 * accuracy(clean)).toFixed(1)} %`);

    say('\nDetection delay (windows of 60 inferences from onset to alert):');
    const delays: DelayRow[] = [];
    for (const kind of CORRUPTION_KINDS) {
      for (const severity of SEVERITIES) {
        const observed = await observeSplit(model, corruptedSplit(model.dataset, kind, severity, 11));
        delays.push(detectionDelay(model, clean, observed, kind, severity, seeds));
      }
    }
    console.table(
      delays.map((d) => ({
        corruption: d.corruption,
        severity: d.severity,
        'median windows': d.median_windows ?? `> ${MAX_WINDOWS}`,
        'per seed': d.windows.map((w) => w ?? '-').join(' '),
        'top-1 on stream %': round(100 * d.top1_on_stream, 1),
        'most drifted': d.most_drifted.slice(0, 3).join(', '),
      })),
    );

    say(`\nStationary stream: ${stationaryWindows} windows from the clean test split...`);
    const stationary = falseAlarms(model, clean, stationaryWindows);
    const bytes = telemetryBytes(model, clean);
    const merge = mergeTimes(model, clean);
    const summary = {
      'false alarm rate': `${(100 * stationary.rate).toFixed(2)} % (target ≤ ${100 * TARGETS.falseAlarmRate} %)`,
      'alarms raised': stationary.raised,
      'evaluated windows': stationary.evaluated,
      'bytes per window message': bytes.perMessage,
      'KB per device-hour (1 window/min)': round(bytes.perHour / 1024, 1),
      'µs per window merge': round(merge.perMergeUs, 1),
      'ms to merge 1,000 windows': round(merge.thousandMs, 1),
    };
    console.table(summary);

    const result = {
      bench: 'drift',
      at: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', loadavg: loadavg() },
      settings: {
        epochs,
        seeds,
        per_window: PER_WINDOW,
        clean_windows_before_onset: CLEAN_WINDOWS,
        max_windows: MAX_WINDOWS,
        detector: 'DriftDetector defaults: 5-window sliding merge, hysteresis 2 of 3, PSI 0.1/0.2',
      },
      champion_top1_clean: round(accuracy(clean), 4),
      train_seconds: round(model.trainSeconds, 1),
      detection_delay: delays,
      stationary: {
        ...stationary,
        target_rate: TARGETS.falseAlarmRate,
        met: stationary.rate <= TARGETS.falseAlarmRate,
      },
      telemetry: {
        bytes_per_message: bytes.perMessage,
        bytes_per_device_hour: bytes.perHour,
        target_bytes_per_device_hour: TARGETS.bytesPerDeviceHour,
        met: bytes.perHour <= TARGETS.bytesPerDeviceHour,
      },
      sketch_merge: {
        us_per_merge: round(merge.perMergeUs, 2),
        ms_per_1000_windows: round(merge.thousandMs, 2),
      },
    };
    const { loop } = await previousResults();
    await writeResults({ ...result, ...(loop === undefined ? {} : { loop }) });
  } finally {
    await model.close();
  }
}

async function runLoopBench(devices: number, timeoutSeconds: number): Promise<void> {
  if (!(Number.isInteger(devices) && devices >= 2))
    throw new RangeError('--devices must be a whole number ≥ 2');
  const say = (line: string) => console.log(line);
  const loadBefore = loadavg();
  say(
    `Closed loop on a real cloud and ${devices} simulated devices (load average ${loadBefore.map((l) => l.toFixed(1)).join(' ')}):`,
  );
  const loop = await runLoop({ devices, timeoutSeconds, say });
  const s = loop.seconds_from_onset;
  const cell = (x: number | null) => x ?? 'not reached';
  console.table({
    'drift warn': cell(s.drift_warn),
    'drift alert': cell(s.drift_alert),
    'retraining run started': cell(s.retraining_run_started),
    'challenger registered': cell(s.challenger_registered),
    promoted: cell(s.promoted),
    [`drifted devices on the new champion (target ≤ ${loop.target_seconds})`]: cell(
      s.drifted_devices_on_new_champion,
    ),
  });
  const pct = (x: number | null) => (x === null ? '-' : `${(100 * x).toFixed(1)} %`);
  console.table({
    'drifted devices, old champion': pct(loop.top1_drifted.before),
    'drifted devices, new champion': pct(loop.top1_drifted.after),
    'clean devices, old champion': pct(loop.top1_clean.before),
    'clean devices, new champion': pct(loop.top1_clean.after),
  });
  say(
    `run ${loop.run?.id ?? '-'}: ${loop.run?.status ?? 'none'}${loop.run?.reason ? ` (${loop.run.reason})` : ''}`,
  );
  const previous = await previousResults();
  await writeResults({
    ...previous,
    loop: {
      at: new Date().toISOString(),
      machine: {
        cpus: cpus().length,
        model: cpus()[0]?.model ?? 'unknown',
        loadavg_before: loadBefore,
        loadavg_after: loadavg(),
      },
      ...loop,
    },
  });
}

async function previousResults(): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(RESULTS, 'utf8')) as Record<string, unknown>;
  } catch {
    return { bench: 'drift' };
  }
}

async function writeResults(result: Record<string, unknown>): Promise<void> {
  await mkdir(dirname(RESULTS), { recursive: true });
  await writeFile(RESULTS, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nwrote ${RESULTS}`);
}

function detectionDelay(
  model: WatchedModel,
  clean: ObservedImages,
  drifted: ObservedImages,
  corruption: CorruptionKind,
  severity: number,
  seeds: number,
): DelayRow {
  const windows: (number | null)[] = [];
  const driftedFeatures = new Map<string, number>();
  for (let seed = 1; seed <= seeds; seed++) {
    const detector = new DriftDetector(model.profile);
    const before = new WindowStream(clean, model, 1000 + seed);
    for (let i = 0; i < CLEAN_WINDOWS; i++) detector.observe(before.next(PER_WINDOW));
    const after = new WindowStream(drifted, model, 2000 + seed);
    let found: number | null = null;
    for (let w = 1; w <= MAX_WINDOWS && found === null; w++) {
      const report = detector.observe(after.next(PER_WINDOW));
      if (report.state === 'alert') {
        found = w;
        for (const [rank, name] of report.drifted.entries()) {
          driftedFeatures.set(name, (driftedFeatures.get(name) ?? 0) + (report.drifted.length - rank));
        }
      }
    }
    windows.push(found);
  }
  return {
    corruption,
    severity,
    windows,
    median_windows: windows.every((w) => w !== null) ? median(windows as number[]) : null,
    top1_on_stream: accuracy(drifted),
    most_drifted: [...driftedFeatures.entries()].sort((a, b) => b[1] - a[1]).map(([name]) => name),
  };
}

function falseAlarms(model: WatchedModel, clean: ObservedImages, n: number) {
  const detector = new DriftDetector(model.profile);
  const stream = new WindowStream(clean, model, 4242);
  let evaluated = 0;
  let alertWindows = 0;
  let raised = 0;
  for (let i = 0; i < n; i++) {
    const report = detector.observe(stream.next(PER_WINDOW));
    if (report.evaluation === 'insufficient-data') continue;
    evaluated++;
    if (report.state === 'alert') alertWindows++;
    if (report.changed && report.state === 'alert') raised++;
  }
  return {
    evaluated,
    alert_windows: alertWindows,
    raised,
    rate: evaluated === 0 ? 0 : alertWindows / evaluated,
  };
}

/** One window a minute as the agent sends it: summary fields plus the binned sketches. */
function telemetryBytes(model: WatchedModel, clean: ObservedImages) {
  const stream = new WindowStream(clean, model, 77);
  const { manifest } = model;
  let total = 0;
  const messages = 60;
  for (let seq = 0; seq < messages; seq++) {
    const window = stream.next(PER_WINDOW);
    const start = Date.UTC(2026, 10, 25, 12, seq);
    const classCounts = new Array<number>(manifest.classes.length).fill(0);
    classCounts[seq % classCounts.length] = PER_WINDOW;
    total += telemetryWindowPayload.encode({
      v: 1,
      deviceId: 'cam-0001',
      seq,
      windowStart: start,
      windowEnd: start + 60_000,
      model: {
        name: manifest.name,
        version: manifest.version,
        variant: manifest.variant,
        sha256: manifest.sha256,
      },
      inferences: PER_WINDOW,
      errors: 0,
      latencyMs: { count: PER_WINDOW, min: 1.1, max: 9.7, mean: 2.3, p50: 2.1, p95: 4.4, p99: 8.9 },
      classCounts,
      meanConfidence: 0.93,
      sketches: window.toWire(),
    }).length;
  }
  return { perMessage: Math.round(total / messages), perHour: Math.round((total / messages) * 60) };
}

function mergeTimes(model: WatchedModel, clean: ObservedImages) {
  const stream = new WindowStream(clean, model, 99);
  const windows: WindowSketch[] = Array.from({ length: 1000 }, () => stream.next(PER_WINDOW));
  // Warm up, then time merging 1,000 windows into one (what a scope's tick does).
  let merged = windows[0] as WindowSketch;
  for (let i = 1; i < 100; i++) merged = merged.merge(windows[i] as WindowSketch);
  const started = performance.now();
  merged = windows[0] as WindowSketch;
  for (let i = 1; i < windows.length; i++) merged = merged.merge(windows[i] as WindowSketch);
  const thousandMs = performance.now() - started;
  return { perMergeUs: (thousandMs * 1000) / (windows.length - 1), thousandMs };
}
