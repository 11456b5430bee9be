import { afterEach, describe, expect, it } from 'vitest';
import { AgentEventBus, type AgentEvents } from '../../event-bus.ts';
import { ModelSession } from '../../inference.ts';
import { silentLogger } from '../../log.ts';
import { AgentMetrics } from '../../metrics.ts';
import { ImagePreprocessor } from '../../preprocess.ts';
import { brightnessModel, solidImage, TEST_PROFILE } from '../../testing/agent-fixtures.ts';
import { modelRef } from '../inference.ts';
import { ShadowRunner } from './shadow-runner.ts';

const main = brightnessModel('1');
const shadowModel = brightnessModel('2');

async function setup(options: { rate: number; random?: () => number }) {
  const bus = new AgentEventBus();
  const metrics = new AgentMetrics({ deviceId: 'cam-1' });
  const warnings: Record<string, unknown>[] = [];
  const runner = new ShadowRunner({
    bus,
    metrics,
    logger: { ...silentLogger, warn: (_event, fields = {}) => warnings.push(fields) },
    maxImageBytes: 1024 * 1024,
    ...(options.random ? { random: options.random } : {}),
  });
  const session = await ModelSession.create(shadowModel.bytes, shadowModel.manifest, TEST_PROFILE);
  runner.start();
  await runner.install({ session, ref: modelRef(shadowModel.manifest), rate: options.rate });
  const runs: AgentEvents['shadowInference'][] = [];
  bus.on('shadowInference', runs, (event) => runs.push(event));
  return { bus, metrics, runner, runs, warnings, session };
}

/** The frame the inference feature would emit for a solid image classified by the main model. */
async function frameOf(value: number, label: string): Promise<AgentEvents['frame']> {
  const image = await solidImage(value);
  const preprocessing = main.manifest.preprocessing;
  const tensor = await new ImagePreprocessor(preprocessing).tensor(image);
  return {
    model: modelRef(main.manifest),
    image,
    tensor,
    shape: [1, 1, 32, 32],
    preprocessing,
    classIndex: main.manifest.classes.indexOf(label),
    label,
    confidence: 0.99,
  };
}

let runner: ShadowRunner | null = null;
afterEach(async () => {
  await runner?.stop();
  runner = null;
});

async function counter(metrics: AgentMetrics, name: 'shadowInferences' | 'shadowSkipped') {
  return (await metrics[name].get()).values.map((v) => [Object.values(v.labels)[0], v.value]);
}

describe('ShadowRunner', () => {
  it('runs on the sampled share of frames and compares top-1 labels', async () => {
    // Draws 0.1, 0.9, 0.1, 0.9 …: with rate 0.5 every other frame is sampled.
    let draw = 0;
    const s = await setup({ rate: 0.5, random: () => (draw++ % 2 === 0 ? 0.1 : 0.9) });
    runner = s.runner;
    const white = await frameOf(255, 'bright');
    const wrong = await frameOf(0, 'bright'); // the "main model" said bright on a black frame
    for (const frame of [white, white, wrong, wrong]) {
      s.bus.emit('frame', frame);
      await s.runner.idle();
    }
    expect(s.runs).toEqual([
      expect.objectContaining({ ok: true, agreed: true, model: modelRef(shadowModel.manifest) }),
      expect.objectContaining({ ok: true, agreed: false }),
    ]);
    expect(await counter(s.metrics, 'shadowInferences')).toEqual(
      expect.arrayContaining([
        ['agreed', 1],
        ['disagreed', 1],
      ]),
    );
  });

  it('skips and counts a sampled frame while the previous run is in flight', async () => {
    const s = await setup({ rate: 1 });
    runner = s.runner;
    const frame = await frameOf(255, 'bright');
    s.bus.emit('frame', frame);
    s.bus.emit('frame', frame);
    s.bus.emit('frame', frame);
    await s.runner.idle();
    expect(s.runs).toHaveLength(1);
    expect(await counter(s.metrics, 'shadowSkipped')).toEqual([['busy', 2]]);
  });

  it('copies the tensor: a caller reusing its buffer does not change what the shadow sees', async () => {
    const s = await setup({ rate: 1 });
    runner = s.runner;
    const frame = await frameOf(255, 'bright');
    s.bus.emit('frame', frame);
    frame.tensor.fill(0); // black, for which the shadow would answer dark
    await s.runner.idle();
    expect(s.runs).toEqual([expect.objectContaining({ ok: true, agreed: true })]);
  });

  it('counts a failing shadow run as an error and logs it once', async () => {
    const s = await setup({ rate: 1 });
    runner = s.runner;
    // A frame whose preprocessing differs makes the runner decode the image again: these bytes fail.
    const frame = {
      ...(await frameOf(255, 'bright')),
      preprocessing: { ...main.manifest.preprocessing, width: 16, height: 16 },
      image: new Uint8Array([1, 2, 3, 4]),
    };
    for (let i = 0; i < 3; i++) {
      s.bus.emit('frame', frame);
      await s.runner.idle();
    }
    expect(s.runs).toEqual([
      expect.objectContaining({ ok: false }),
      expect.objectContaining({ ok: false }),
      expect.objectContaining({ ok: false }),
    ]);
    expect(await counter(s.metrics, 'shadowInferences')).toEqual([['error', 3]]);
    expect(s.warnings).toHaveLength(1);
    expect(s.warnings[0]).toMatchObject({ code: 'VALIDATION_FAILED', errors: 1 });
  });

  it('finishes a run in flight on a shadow uninstalled meanwhile, then runs nothing', async () => {
    const s = await setup({ rate: 1 });
    runner = s.runner;
    const frame = await frameOf(255, 'bright');
    s.bus.emit('frame', frame);
    await s.runner.install(null);
    await s.runner.idle();
    expect(s.runs).toEqual([expect.objectContaining({ ok: true, agreed: true })]);
    // Released after its run: running it again fails.
    await expect(s.session.classify(frame.tensor)).rejects.toThrow();
    s.bus.emit('frame', frame);
    await s.runner.idle();
    expect(s.runs).toHaveLength(1);
    expect(s.runner.model).toBeNull();
  });
});
