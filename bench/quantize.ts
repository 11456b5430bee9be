// `pnpm bench quantize [model.onnx ...]`: int8 post-training quantization of the default digits CNN
// (bench/.cache/digits-cnn.onnx, written by `pnpm bench train`) and of any ONNX files given, with
// size, batch-1/32 latency (fp32 and int8 interleaved in one run, one intra-op thread) and top-1 on
// the mnist test split. Writes bench/results/quantize.json and prints a table.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  compareVariants,
  decodeModel,
  detectImageInput,
  type EvaluationSet,
  loadMnistDataset,
  measureVariantsLatency,
  OnnxFormatError,
  type QuantizationReport,
  quantizeModel,
} from '@edgeloop/cloud';

const here = dirname(fileURLToPath(import.meta.url));
const DEFAULT_MODEL = join(here, '.cache', 'digits-cnn.onnx');
const RESULTS = join(here, 'results', 'quantize.json');
// Targets from the issue: the table marks rows that miss them.
const TARGETS = { sizeRatio: 0.35, latencyRatioB1: 1.0, top1DropPoints: 0.5, agreement: 0.99 };
const LATENCY = { samples: 400, runsPerSample: 10, warmup: 50 };

interface Row {
  model: string;
  plan: string;
  fp32_bytes: number;
  int8_bytes: number;
  size_ratio: number;
  fp32_ms_b1: number;
  int8_ms_b1: number;
  latency_ratio_b1: number;
  fp32_ms_b32: number | null;
  int8_ms_b32: number | null;
  top1_fp32: number;
  top1_int8: number;
  agreement: number;
  misses: string[];
}

export async function run(args: string[]): Promise<void> {
  if (!existsSync(DEFAULT_MODEL)) {
    console.error(
      `No default model at ${DEFAULT_MODEL}.\nRun \`pnpm bench train\` first: it trains the default digits CNN and writes it there.`,
    );
    process.exitCode = 1;
    return;
  }
  const dataset = loadMnistDataset();
  const testSet: EvaluationSet = { ...dataset.test, shape: dataset.shape, classes: dataset.classes };
  const calibration = { ...dataset.validation, shape: dataset.shape };
  const rows: Row[] = [];
  const reports: Record<string, QuantizationReport> = {};
  for (const path of [DEFAULT_MODEL, ...args]) {
    const name = basename(path);
    const bytes = readModel(path);
    if (!bytes) continue;
    const started = performance.now();
    const { model, report } = await quantizeModel(bytes, calibration, {
      onProgress: (p) => {
        if (p.stage !== 'calibrate') console.log(`  ${name}: ${p.stage} ${p.message}`);
      },
    });
    console.log(
      `  ${name}: quantized in ${((performance.now() - started) / 1000).toFixed(1)} s, plan ${report.chosen}`,
    );
    const fp32 = { bytes };
    const int8 = { bytes: model, sessionOptions: report.sessionOptions };
    const accuracy = await compareVariants(fp32, int8, testSet);
    const [lf, lq] = await measureVariantsLatency([fp32, int8], testSet, LATENCY);
    const row: Row = {
      model: name,
      plan: report.chosen,
      fp32_bytes: bytes.length,
      int8_bytes: model.length,
      size_ratio: model.length / bytes.length,
      fp32_ms_b1: lf!.b1.p50,
      int8_ms_b1: lq!.b1.p50,
      latency_ratio_b1: lq!.b1.p50 / lf!.b1.p50,
      fp32_ms_b32: lf!.b32?.p50 ?? null,
      int8_ms_b32: lq!.b32?.p50 ?? null,
      top1_fp32: accuracy.referenceTop1,
      top1_int8: accuracy.candidateTop1,
      agreement: accuracy.agreement,
      misses: [],
    };
    row.misses = missedTargets(row);
    rows.push(row);
    reports[name] = report;
  }
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(
    RESULTS,
    `${JSON.stringify(
      {
        benchmark: 'quantize',
        date: new Date().toISOString(),
        machine: { cpus: cpus().length, node: process.version },
        latency: { ...LATENCY, threads: 1, statistic: 'p50 ms per run, fp32 and int8 interleaved' },
        dataset: {
          name: dataset.name,
          version: dataset.version,
          test: dataset.test.count,
          calibration: calibration.count,
        },
        targets: TARGETS,
        rows,
        reports,
      },
      null,
      2,
    )}\n`,
  );
  printTable(rows);
  console.log(`\nwrote ${RESULTS}`);
}

/** The model's bytes, or null (with the reason printed) when it is not an image model we can test. */
function readModel(path: string): Uint8Array | null {
  if (!existsSync(path)) {
    console.error(`skip ${path}: no such file`);
    return null;
  }
  const bytes = new Uint8Array(readFileSync(path));
  try {
    const input = detectImageInput(decodeModel(bytes));
    if (input.channels !== 1 || input.height !== 28 || input.width !== 28) {
      console.error(
        `skip ${path}: input '${input.name}' is ${input.channels}×${input.height}×${input.width}; the mnist test split is 1×28×28`,
      );
      return null;
    }
    return bytes;
  } catch (e) {
    if (e instanceof OnnxFormatError) {
      console.error(`skip ${path}: ${e.message} [${e.code}]`);
      return null;
    }
    throw e;
  }
}

function missedTargets(r: Row): string[] {
  const misses: string[] = [];
  if (r.size_ratio > TARGETS.sizeRatio) misses.push('size');
  if (r.latency_ratio_b1 > TARGETS.latencyRatioB1) misses.push('latency');
  if ((r.top1_fp32 - r.top1_int8) * 100 > TARGETS.top1DropPoints) misses.push('top1');
  if (r.agreement < TARGETS.agreement) misses.push('agreement');
  return misses;
}

function printTable(rows: Row[]): void {
  const f = (v: number | null, digits: number) => (v === null ? '-' : v.toFixed(digits));
  console.table(
    rows.map((r) => ({
      model: r.model,
      plan: r.plan,
      fp32_bytes: r.fp32_bytes,
      int8_bytes: r.int8_bytes,
      size_ratio: f(r.size_ratio, 3),
      fp32_ms_b1: f(r.fp32_ms_b1, 4),
      int8_ms_b1: f(r.int8_ms_b1, 4),
      latency_ratio_b1: f(r.latency_ratio_b1, 3),
      fp32_ms_b32: f(r.fp32_ms_b32, 3),
      int8_ms_b32: f(r.int8_ms_b32, 3),
      top1_fp32: f(r.top1_fp32 * 100, 2),
      top1_int8: f(r.top1_int8 * 100, 2),
      agreement: f(r.agreement * 100, 2),
      misses: r.misses.join(',') || 'none',
    })),
  );
}
