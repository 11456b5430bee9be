/**
 * Benchmark of the built-in CNN trainer on this machine, one thread, in-process.
 *
 * Trains the default architecture on mnist train+validation (8,000 digits, as the PyTorch anchor in
 * docs FACTS.md did) and measures the 2,000 test digits after every epoch. Writes
 * bench/results/train.json and the model to bench/.cache/digits-cnn.onnx (the quantize bench reads it).
 *
 *   node --import tsx -e "import('./bench/train.ts').then(m=>m.run(process.argv.slice(1)))" -- --epochs 5
 *   … --gemm     measures the GEMM variants on the network's matrix shapes instead
 *
 * Targets (issue [B]): ≤ 20 s per epoch on one core, ≥ 97% test accuracy within 5 epochs.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  concatSplits,
  emptySplit,
  exportCnnToOnnx,
  gemm,
  gemmTransposedB,
  loadMnistDataset,
  parseBuiltinHyperparameters,
  trainCnn,
} from '@edgeloop/cloud';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

export async function run(args: string[]): Promise<void> {
  if (args.includes('--gemm')) return runGemm();
  const flag = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const hyperparameters = parseBuiltinHyperparameters({
    epochs: Number(flag('epochs') ?? 5),
    ...(flag('batch-size') ? { batchSize: Number(flag('batch-size')) } : {}),
    ...(flag('lr') ? { learningRate: Number(flag('lr')) } : {}),
    ...(flag('decay') ? { learningRateDecay: Number(flag('decay')) } : {}),
    ...(flag('conv') ? { convChannels: flag('conv')!.split(',').map(Number) } : {}),
    ...(flag('hidden') ? { hidden: Number(flag('hidden')) } : {}),
    ...(flag('seed') ? { seed: Number(flag('seed')) } : {}),
  });
  const mnist = loadMnistDataset();
  // Per-epoch "validation" is the test split here: nothing is selected on it, it is only reported.
  const dataset = {
    ...mnist,
    train: concatSplits([mnist.train, mnist.validation]),
    validation: mnist.test,
    test: emptySplit(),
  };
  const loadBefore = loadavg()[0]!;
  console.log(
    `training on ${dataset.train.count} digits, testing on ${mnist.test.count}:`,
    JSON.stringify(hyperparameters),
  );
  console.log('epoch  seconds   loss    train_acc  test_acc');
  const started = performance.now();
  const { cnn, metrics } = trainCnn(dataset, hyperparameters, {
    onProgress: (p) => {
      if (p.phase === 'training' && p.validationAccuracy !== undefined) {
        console.log(
          `  epoch ${p.epoch} done at ${(p.elapsedMs / 1000).toFixed(1)} s, test accuracy ${p.validationAccuracy.toFixed(4)}`,
        );
      }
    },
  });
  const totalSeconds = (performance.now() - started) / 1000;
  for (const e of metrics.epochs) {
    console.log(
      `${String(e.epoch).padStart(5)}  ${e.seconds.toFixed(2).padStart(7)}  ${e.loss.toFixed(4)}  ${e.trainAccuracy.toFixed(4).padStart(9)}  ${(e.validationAccuracy ?? 0).toFixed(4).padStart(8)}`,
    );
  }
  const epochSeconds = metrics.epochs.reduce((s, e) => s + e.seconds, 0) / metrics.epochs.length;
  const testAccuracy = metrics.epochs.at(-1)!.validationAccuracy!;
  const result = {
    benchmark: 'train',
    date: new Date().toISOString(),
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      node: process.version,
      loadavg1_before: loadBefore,
      loadavg1_after: loadavg()[0],
    },
    dataset: { name: mnist.name, version: mnist.version, train: dataset.train.count, test: mnist.test.count },
    hyperparameters,
    epochs: metrics.epochs.length,
    epoch_seconds: epochSeconds,
    test_accuracy: testAccuracy,
    total_seconds: totalSeconds,
    per_epoch: metrics.epochs.map((e) => ({
      epoch: e.epoch,
      seconds: e.seconds,
      loss: e.loss,
      train_accuracy: e.trainAccuracy,
      test_accuracy: e.validationAccuracy,
    })),
    targets: { epoch_seconds_max: 20, test_accuracy_min: 0.97 },
  };
  console.log(
    `mean ${epochSeconds.toFixed(2)} s/epoch, test accuracy ${(testAccuracy * 100).toFixed(2)}% (load avg ${loadBefore.toFixed(2)} → ${loadavg()[0]!.toFixed(2)})`,
  );
  await mkdir(join(BENCH_DIR, 'results'), { recursive: true });
  await writeFile(join(BENCH_DIR, 'results', 'train.json'), `${JSON.stringify(result, null, 2)}\n`);
  await mkdir(join(BENCH_DIR, '.cache'), { recursive: true });
  const model = exportCnnToOnnx(cnn.weights(), {
    metadata: { dataset: mnist.name, datasetVersion: mnist.version },
  });
  await writeFile(join(BENCH_DIR, '.cache', 'digits-cnn.onnx'), model);
  console.log(`wrote bench/results/train.json and bench/.cache/digits-cnn.onnx (${model.length} bytes)`);
}

/** GEMM throughput on the matrix shapes of the default network (batch 32), one thread. */
function runGemm(): void {
  const naive = (M: number, K: number, N: number, A: Float32Array, B: Float32Array, C: Float32Array) => {
    C.fill(0);
    for (let i = 0; i < M; i++) {
      for (let k = 0; k < K; k++) {
        const a = A[i * K + k]!;
        for (let j = 0; j < N; j++) C[i * N + j]! += a * B[k * N + j]!;
      }
    }
  };
  const shapes: [string, number, number, number, boolean][] = [
    ['conv2 forward  W·cols', 32, 144, 32 * 196, false],
    ['conv2 dW  dY·colsᵀ', 32, 32 * 196, 144, true],
    ['conv2 dcols  Wᵀ·dY', 144, 32, 32 * 196, false],
    ['hidden forward  W·x', 128, 1568, 32, false],
  ];
  console.log('shape                      M     K     N   kernel           ms   GMAC/s');
  for (const [name, M, K, N, transposedB] of shapes) {
    const A = Float32Array.from({ length: M * K }, () => Math.random());
    const B = Float32Array.from({ length: K * N }, () => Math.random());
    const C = new Float32Array(M * N);
    const kernels: [string, () => void][] = transposedB
      ? [['4×4 blocked A·Bᵀ', () => gemmTransposedB(M, K, N, A, B, C)]]
      : [
          ['naive i-k-j', () => naive(M, K, N, A, B, C)],
          ['4×4 blocked', () => gemm(M, K, N, A, B, C)],
        ];
    for (const [kernel, fn] of kernels) {
      for (let w = 0; w < 3; w++) fn();
      const reps = 10;
      const t = performance.now();
      for (let r = 0; r < reps; r++) fn();
      const ms = (performance.now() - t) / reps;
      console.log(
        `${name.padEnd(24)} ${String(M).padStart(5)} ${String(K).padStart(5)} ${String(N).padStart(5)}   ${kernel.padEnd(16)} ${ms.toFixed(2).padStart(6)}  ${((M * K * N) / ms / 1e6).toFixed(2).padStart(6)}`,
      );
    }
  }
}
