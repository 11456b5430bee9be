// Where a version came from, as the registry records it: the dataset (content hash, name, source),
// the training settings actually used, the trainer, the code that ran, the parent version.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { type Dataset, datasetDigest } from '../datasets/index.ts';
import type { ModelLineage } from '../registry/index.ts';
import { datasetSourceRef } from './datasets.ts';

const run = promisify(execFile);
const PACKAGE_JSON = new URL('../../package.json', import.meta.url);
let cached: Promise<string> | undefined;

/**
 * `<package version>+<short git sha>`, or the package version alone outside a git checkout (an
 * installed package), so a version can always be traced to the code that trained it.
 */
export function codeVersion(): Promise<string> {
  cached ??= (async () => {
    const { version } = JSON.parse(await readFile(PACKAGE_JSON, 'utf8')) as { version: string };
    try {
      const { stdout } = await run('git', ['rev-parse', '--short=12', 'HEAD'], {
        cwd: new URL('.', import.meta.url),
        timeout: 5_000,
      });
      const sha = stdout.trim();
      return /^[0-9a-f]{7,40}$/.test(sha) ? `${version}+${sha}` : version;
    } catch {
      return version; // no git, or not a checkout
    }
  })();
  return cached;
}

export async function lineageOf(args: {
  dataset: Dataset;
  trainer: string;
  hyperparameters: Record<string, unknown>;
  parentVersion?: number | undefined;
}): Promise<ModelLineage> {
  return {
    datasetHash: datasetDigest(args.dataset),
    dataset: {
      name: args.dataset.name,
      version: args.dataset.version,
      source: datasetSourceRef(args.dataset),
    },
    trainingParameters: args.hyperparameters,
    codeVersion: await codeVersion(),
    trainer: args.trainer,
    ...(args.parentVersion === undefined ? {} : { parentVersion: args.parentVersion }),
  };
}
