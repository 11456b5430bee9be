// `edgeloop model ...` end to end: the real dispatcher against a cloud started in this process, over
// HTTP, with tiny training runs on a folder of real digit images.
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCloud, startCloud } from '../cloud.ts';
import { loadCloudConfig } from '../config/index.ts';
import { silentLogger } from '../log/index.ts';
import { FAST_LATENCY, tempDir, writeDigitFolder } from '../pipeline/testing.ts';
import { runCli } from './testing.ts';

const TINY = JSON.stringify({ convChannels: [4, 8], hidden: 16, batchSize: 16, learningRate: 0.005 });
const ports = { port: '0', 'mqtt-port': '0', 'mqtt-ws-port': '0' };
let dataDir: string;
let folder: string;
let cloud: RunningCloud;
let env: Record<string, string | undefined>;

const run = (argv: string[], options: { tty?: boolean } = {}) =>
  runCli(argv, { env, isTTY: options.tty ?? false });

function config(dir: string) {
  return loadCloudConfig({ flags: { ...ports, 'data-dir': dir, 'quick-start': true } });
}

beforeAll(async () => {
  dataDir = await tempDir('edgeloop-model-cli-');
  folder = await writeDigitFolder(join(dataDir, 'digits-folder'), { classes: ['0', '1', '7'], perClass: 30 });
  cloud = await startCloud(config(dataDir), {
    logger: silentLogger,
    bootstrapModel: false,
    pipeline: { latency: FAST_LATENCY, quantize: { latency: FAST_LATENCY } },
  });
  env = { EDGELOOP_CLOUD: cloud.urls.api, EDGELOOP_TOKEN: cloud.adminToken };
});
afterAll(async () => {
  await cloud?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('edgeloop model', () => {
  const train = (extra: string[] = []) => [
    'model',
    'train',
    '--name',
    'digits',
    '--dataset',
    folder,
    '--epochs',
    '1',
    '--hyperparameters',
    TINY,
    '--wait',
    ...extra,
  ];

  it('trains with --wait, printing plain progress lines when not on a terminal', async () => {
    expect((await run(['model', 'list'])).out).toMatch(/^NAME\s+LATEST\s+ALIASES/);
    const res = await run(train());
    expect(res.err).toBe('');
    expect(res.code).toBe(0);
    const lines = res.out.split('\n');
    expect(lines.some((l) => /^train digits: training \d+% \(.*epoch 1\/1/.test(l))).toBe(true);
    expect(lines.some((l) => /^train digits: quantizing \d+%/.test(l))).toBe(true);
    expect(res.out).not.toContain('\r');
    expect(res.out).toMatch(
      /Registered digits v1 as champion: fp32 \d+\.\d% [\d.]+ KiB, int8 \d+\.\d% [\d.]+ KiB\./,
    );
  });

  it('redraws one progress line in place on a terminal; a second version is compared with the champion', async () => {
    const res = await run(train(['--parent', '1']), { tty: true });
    expect(res.code).toBe(0);
    expect(res.out).toContain('\r\x1b[2Ktrain digits training    [');
    expect(res.out).toMatch(/train digits training {4}\[#*-*\] +\d+% {2}training epoch 1\/1/);
    expect(res.out).toMatch(/\[#{24}\] 100%/);
    expect(res.out).toMatch(/Registered digits v2 as challenger/);
    expect(res.out).toMatch(/against champion v1 \(int8\): top-1 [+-]\d+\.\d\d points, agreement \d+\.\d%/);
  });

  it('lists, shows and moves aliases', async () => {
    const list = await run(['model', 'list']);
    expect(list.out).toMatch(/digits\s+2\s+challenger=v2, champion=v1\s+3\s+trained on digits-folder/);
    const shown = await run(['model', 'show', 'digits', '1']);
    expect(shown.code).toBe(0);
    expect(shown.out).toMatch(/trainer:\s+builtin/);
    expect(shown.out).toMatch(/VARIANT\s+SIZE\s+ACCURACY\s+B1 P50 MS\s+B1 P95 MS\s+B32 P50 MS/);
    expect(shown.out).toMatch(/^int8\s+[\d.]+ KiB\s+\d+\.\d%\s+\d+\.\d{3}/m);
    expect(shown.out).toMatch(
      /^CLASS\s+SUPPORT\s+FP32 PRECISION\s+FP32 RECALL\s+INT8 PRECISION\s+INT8 RECALL/m,
    );
    expect(shown.out).toMatch(/^7\s+\d+\s+\d+\.\d%/m);
    expect(shown.out).toMatch(/champion comparison: no champion yet/);
    const model = await run(['model', 'show', 'digits']);
    expect(model.out).toMatch(/^2\s+\S+\s+fp32, int8\s+challenger$/m);

    const moved = await run(['model', 'alias', 'set', 'digits', 'champion', '2']);
    expect(moved.out).toBe('champion of digits now points at v2 (was v1).\n');
    const missing = await run(['model', 'alias', 'set', 'digits', 'champion', '9']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/version 9 does not exist \[NOT_FOUND\]/);
  });

  it('imports an ONNX file with upload progress, and refuses a file that is not ONNX', async () => {
    const version = JSON.parse((await run(['model', 'show', 'digits', '1', '--json'])).out);
    const fp32 = version.variants.find((v: { variant: string }) => v.variant === 'fp32');
    const bytes = new Uint8Array(
      await (
        await fetch(`${cloud.urls.api}${fp32.artifactUrl}`, {
          headers: { authorization: `Bearer ${cloud.adminToken}` },
        })
      ).arrayBuffer(),
    );
    const file = join(dataDir, 'model.onnx');
    await writeFile(file, bytes);
    const args = [
      '--preprocessing',
      '{"layout":"NCHW","channels":1,"height":28,"width":28}',
      '--classes',
      '0,1,7',
      '--calibration',
      folder,
    ];
    const res = await run(['model', 'import', file, '--name', 'uploaded', ...args, '--wait']);
    expect(res.err).toBe('');
    expect(res.out).toMatch(/^upload uploaded: uploading 100% \(.* KiB of .* KiB\)$/m);
    expect(res.out).toMatch(/Registered uploaded v1 as champion/);

    const junk = join(dataDir, 'junk.onnx');
    await writeFile(junk, 'PK\u0003\u0004 a zip file, not a model');
    const refused = await run(['model', 'import', junk, '--name', 'junk', ...args]);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/edgeloop model import: model file: Not an ONNX model.*\[MODEL_INVALID\]/);
    expect((await run(['model', 'list'])).out).not.toMatch(/junk/);
  });

  it('evaluates and quantizes versions; watch follows a job started without --wait', async () => {
    const evaluated = await run(['model', 'eval', 'digits', '1', '--wait', '--json']);
    expect(evaluated.code).toBe(0);
    const job = JSON.parse(evaluated.out.slice(evaluated.out.indexOf('{')));
    expect(job).toMatchObject({ kind: 'evaluate', status: 'succeeded', result: { version: 1 } });
    expect(job.result.variants.int8.perClass).toHaveLength(3);

    const started = await run(['model', 'quantize', 'digits', '1']);
    const id = /Started job (job-[0-9a-f]{12}) \(quantize digits\)/.exec(started.out)?.[1];
    expect(id).toBeDefined();
    const watched = await run(['model', 'watch', id as string]);
    expect(watched.code).toBe(0);
    expect(watched.out).toMatch(/Registered digits v3: fp32/);
  });

  it('fails a job with the reason when the dataset has one class', async () => {
    const single = await writeDigitFolder(join(dataDir, 'single'), { classes: ['4'], perClass: 5 });
    const res = await run(['model', 'train', '--name', 'one', '--dataset', single, '--wait']);
    expect(res.code).toBe(1);
    expect(res.err).toMatch(
      /job job-[0-9a-f]{12} failed: dataset: .*single class .*\(DATASET_SINGLE_CLASS\) \[VALIDATION_FAILED\]/,
    );
  });

  it('rejects bad command lines with usage', async () => {
    expect((await run(['model', 'show'])).code).toBe(2);
    expect((await run(['model', 'alias', 'set', 'digits', 'champion', 'two'])).err).toMatch(
      /<version> must be a positive whole number/,
    );
    expect((await run(['model', 'import', 'x.onnx', '--name', 'x'])).err).toMatch(
      /--preprocessing is required/,
    );
    expect((await run(['model', 'train', '--dataset', folder, '--size', 'big'])).err).toMatch(
      /--size must look like 28x28/,
    );
  });
});

describe('quick start', () => {
  it('trains the default model in the background on a fresh data dir, and not once a model exists', async () => {
    const fresh = await tempDir('edgeloop-quick-start-');
    try {
      const first = await startCloud(config(fresh), { logger: silentLogger });
      expect(first.bootstrapJob).toMatchObject({ kind: 'train', model: 'digits', actor: 'quick-start' });
      await first.close(); // cancels the training: it would take a minute
      expect(first.jobs.get(first.bootstrapJob!.id)?.status).toBe('cancelled');
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }
    await cloud.close();
    const again = await startCloud(config(dataDir), { logger: silentLogger });
    try {
      expect(again.bootstrapJob).toBeUndefined();
    } finally {
      await again.close();
    }
  }, 90_000); // two whole clouds start and stop: ~3 s alone, 30 s+ on a loaded 2-core machine
});
