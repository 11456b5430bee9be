import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import p from 'onnx-proto';
import { writeDatasetDir } from '../datasets/dataset-files.ts';
import { TrainingError } from './errors.ts';
import {
  type Trainer,
  type TrainingJob,
  type TrainingMetrics,
  TrainingMetricsSchema,
  TrainingProgressSchema,
  type TrainingResult,
} from './trainer.ts';

const { onnx } = p;

export interface ExternalCommandTrainerOptions {
  /**
   * The program and its arguments. In every element `{dataset}` becomes a dataset directory
   * (written by writeDatasetDir), `{out}` the directory to write `model.onnx` and `metrics.json`
   * into, and `{hyperparameters}` a JSON file holding the job's hyperparameters.
   */
  command: string[];
  cwd?: string;
  /** Added to the parent's environment. */
  env?: Record<string, string>;
  /** Parent of the per-job scratch directory; defaults to the OS temp dir. */
  workDir?: string;
  /** Keep the scratch directory (dataset copy, outputs) after the job, e.g. to debug a script. */
  keepFiles?: boolean;
}

const MODEL_FILE = 'model.onnx';
const METRICS_FILE = 'metrics.json';
const STDERR_TAIL_BYTES = 4096;
/** Grace period between SIGTERM and SIGKILL when a job is aborted. */
const KILL_GRACE_MS = 2000;

/**
 * Runs any training program that honours the contract: read the dataset directory, write
 * `{out}/model.onnx` (default model contract) and `{out}/metrics.json`, optionally print JSON lines
 * `{"progress": {...}}` on stdout. This is how a team's own PyTorch script, or a GPU job wrapper,
 * joins the same pipeline and retraining loop as the built-in trainer.
 *
 * @example
 * const trainer = new ExternalCommandTrainer({
 *   command: ['python3', 'train.py', '--data', '{dataset}', '--out', '{out}'],
 * });
 * const { model, metrics } = await trainer.train({ dataset });
 */
export class ExternalCommandTrainer implements Trainer {
  readonly kind = 'external-command';

  constructor(private readonly options: ExternalCommandTrainerOptions) {
    if (options.command.length === 0 || !options.command[0]) {
      throw new TrainingError('TRAINER_COMMAND_INVALID', 'the external trainer command is empty');
    }
  }

  async train(job: TrainingJob): Promise<TrainingResult> {
    if (job.signal?.aborted) throw aborted(job.signal);
    const started = performance.now();
    const scratch = await mkdtemp(join(this.options.workDir ?? tmpdir(), 'edgeloop-train-'));
    try {
      const datasetDir = join(scratch, 'dataset');
      const outDir = join(scratch, 'out');
      const hyperparametersFile = join(scratch, 'hyperparameters.json');
      const hyperparameters = job.hyperparameters ?? {};
      await writeDatasetDir(job.dataset, datasetDir);
      await mkdir(outDir);
      await writeFile(hyperparametersFile, JSON.stringify(hyperparameters));
      const argv = this.options.command.map((arg) =>
        arg
          .replaceAll('{dataset}', datasetDir)
          .replaceAll('{out}', outDir)
          .replaceAll('{hyperparameters}', hyperparametersFile),
      );
      await this.run(argv, job, started);
      const model = await readOutput(outDir, MODEL_FILE);
      checkModelContract(model);
      const metrics = parseMetrics(await readOutput(outDir, METRICS_FILE));
      return { model, metrics, hyperparameters, durationMs: Math.round(performance.now() - started) };
    } finally {
      if (!this.options.keepFiles) await rm(scratch, { recursive: true, force: true });
    }
  }

  private run(argv: string[], job: TrainingJob, started: number): Promise<void> {
    const [program, ...args] = argv as [string, ...string[]];
    return new Promise<void>((resolve, reject) => {
      const child = spawn(program, args, {
        cwd: this.options.cwd,
        env: { ...process.env, ...this.options.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderrTail = '';
      let abortedBy: AbortSignal | undefined;
      let killTimer: NodeJS.Timeout | undefined;
      const onAbort = () => {
        abortedBy = job.signal;
        child.kill('SIGTERM');
        killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
        killTimer.unref();
      };
      job.signal?.addEventListener('abort', onAbort, { once: true });

      createInterface({ input: child.stdout }).on('line', (line) => {
        const progress = progressFromLine(line);
        if (progress && !abortedBy)
          job.onProgress?.({ ...progress, elapsedMs: Math.round(performance.now() - started) });
      });
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk: string) => {
        stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_BYTES);
      });

      child.on('error', (error) => {
        job.signal?.removeEventListener('abort', onAbort);
        reject(
          new TrainingError('TRAINER_COMMAND_NOT_STARTED', `could not start ${program}: ${error.message}`, {
            cause: error,
          }),
        );
      });
      child.on('close', (code, signal) => {
        job.signal?.removeEventListener('abort', onAbort);
        clearTimeout(killTimer);
        if (abortedBy) reject(aborted(abortedBy));
        else if (code === 0) resolve();
        else {
          const how = code === null ? `was killed by ${signal}` : `exited with code ${code}`;
          const tail = stderrTail.trim();
          reject(
            new TrainingError(
              'TRAINER_COMMAND_FAILED',
              `trainer command ${program} ${how}${tail ? `:\n${tail}` : ''}`,
            ),
          );
        }
      });
    });
  }
}

/** A stdout line is progress only if it is a JSON object with a valid `progress`; anything else is the script's own log. */
function progressFromLine(line: string) {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed = TrainingProgressSchema.safeParse((JSON.parse(line) as { progress?: unknown }).progress);
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

async function readOutput(outDir: string, file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(join(outDir, file)));
  } catch (cause) {
    throw new TrainingError(
      'TRAINER_OUTPUT_MISSING',
      `the trainer exited successfully but wrote no {out}/${file}`,
      { cause },
    );
  }
}

/** Rejects bytes that are not an ONNX model with the default contract's input and outputs. */
function checkModelContract(bytes: Uint8Array): void {
  let graph: p.onnx.IGraphProto | null | undefined;
  try {
    graph = onnx.ModelProto.decode(bytes).graph;
  } catch (cause) {
    throw new TrainingError('TRAINER_OUTPUT_INVALID', `{out}/${MODEL_FILE} is not an ONNX model`, { cause });
  }
  const inputs = new Set(graph?.input?.map((v) => v.name) ?? []);
  const outputs = new Set(graph?.output?.map((v) => v.name) ?? []);
  const missing = [
    ...(inputs.has('input') ? [] : ['input "input"']),
    ...['logits', 'probabilities', 'embedding'].filter((o) => !outputs.has(o)).map((o) => `output "${o}"`),
  ];
  if (missing.length > 0) {
    throw new TrainingError(
      'TRAINER_OUTPUT_INVALID',
      `{out}/${MODEL_FILE} lacks the model contract's ${missing.join(', ')}`,
    );
  }
}

function parseMetrics(bytes: Uint8Array): TrainingMetrics {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw new TrainingError('TRAINER_OUTPUT_INVALID', `{out}/${METRICS_FILE} is not valid JSON`, { cause });
  }
  const parsed = TrainingMetricsSchema.safeParse(json);
  if (!parsed.success) {
    throw new TrainingError(
      'TRAINER_OUTPUT_INVALID',
      `{out}/${METRICS_FILE} is invalid: ${parsed.error.message}`,
      {
        cause: parsed.error,
      },
    );
  }
  return parsed.data;
}

function aborted(signal: AbortSignal): TrainingError {
  return new TrainingError('TRAINING_ABORTED', 'training was aborted', { cause: signal.reason });
}
