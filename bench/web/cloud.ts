// The cloud the web bench runs against: started in this process (temp data dir, ports 0, quick
// start on), an admin client for its API, the quick start's `digits` model (the cached CNN imported
// through the pipeline, or the bootstrap job's), and what it resolves for each variant.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunningCloud } from '@edgeloop/cloud';

const bench = join(dirname(fileURLToPath(import.meta.url)), '..');

export const CACHED_MODEL = join(bench, '.cache', 'digits-cnn.onnx');

/** What a pipeline job that registered a version returns. */
export interface ModelOutcome {
  version: number;
  variants: { variant: string; size: number; accuracy: number | null }[];
}

/** A variant's ONNX bytes as the cloud serves them, with the session options and input name to run them. */
export interface Artifact {
  bytes: Uint8Array;
  sessionOptions: Record<string, string>;
  input: string;
}

/** The cloud on `dataDir`; without the cached model, its bootstrap job trains `digits` for `epochs`. */
export async function startBenchCloud(
  dataDir: string,
  options: { cached: boolean; epochs: number },
): Promise<RunningCloud> {
  const { loadCloudConfig, silentLogger, startCloud } = await import('@edgeloop/cloud');
  const config = loadCloudConfig({
    flags: { port: '0', 'mqtt-port': '0', 'mqtt-ws-port': '0', 'data-dir': dataDir, 'quick-start': true },
  });
  const fast = { samples: 8, runsPerSample: 1, warmup: 2 };
  return startCloud(config, {
    logger: silentLogger,
    // No cached model: the quick start's own bootstrap job trains the default model.
    bootstrapModel: options.cached ? false : { epochs: options.epochs },
    pipeline: { latency: fast, quantize: { latency: fast } },
  });
}

/** Calls to the cloud's API as its admin: `api` returns the response, `json` its parsed body. */
export function adminApi(cloud: RunningCloud) {
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${cloud.urls.api}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${cloud.adminToken}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res;
  };
  const json = async (method: string, path: string, body?: unknown) =>
    (await (await api(method, path, body)).json()) as Record<string, unknown>;
  return { api, json };
}
export type AdminApi = ReturnType<typeof adminApi>;

/** The quick start's default model: the cached CNN imported, or the bootstrap job's outcome. */
export async function digitsModel(
  cloud: RunningCloud,
  { json }: AdminApi,
  options: { cached: boolean; classes: string[] },
): Promise<ModelOutcome> {
  const waitForJob = async (id: string) => {
    for (const deadline = Date.now() + 900_000; ; ) {
      const status = await json('GET', `/api/v1/jobs/${id}`);
      if (status.status === 'succeeded') return status.result as ModelOutcome;
      if (status.status === 'failed' || Date.now() > deadline)
        throw new Error(`job: ${JSON.stringify(status)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  if (options.cached) {
    const job = (await json('POST', '/api/v1/models/import', {
      name: 'digits',
      onnx: readFileSync(CACHED_MODEL).toString('base64'),
      classes: options.classes,
      preprocessing: { layout: 'NCHW', channels: 1, height: 28, width: 28 },
      calibration: { kind: 'mnist' },
      aliases: ['champion'],
    })) as { job: { id: string } };
    return waitForJob(job.job.id);
  }
  if (!cloud.bootstrapJob) throw new Error('the cloud did not start its bootstrap training job');
  return waitForJob(cloud.bootstrapJob.id);
}

/** Each variant of the `digits` champion as the browser device class resolves it, bytes downloaded. */
export async function championArtifacts(
  { api, json }: AdminApi,
  variants: readonly string[],
): Promise<Record<string, Artifact>> {
  const artifacts: Record<string, Artifact> = {};
  for (const variant of variants) {
    const resolved = (await json(
      'GET',
      `/api/v1/models/digits/resolve?alias=champion&deviceClass=browser&variant=${variant}`,
    )) as {
      manifest: { variant: string; input: { name: string }; sessionOptions?: Record<string, string> };
      artifactUrl: string;
    };
    if (resolved.manifest.variant !== variant)
      throw new Error(`asked ${variant}, got ${resolved.manifest.variant}`);
    artifacts[variant] = {
      bytes: new Uint8Array(await (await api('GET', resolved.artifactUrl)).arrayBuffer()),
      sessionOptions: resolved.manifest.sessionOptions ?? {},
      input: resolved.manifest.input.name,
    };
  }
  return artifacts;
}

/** The variant the browser device class resolves to when it names none. */
export async function defaultBrowserVariant({ json }: AdminApi): Promise<string> {
  return (
    (await json('GET', '/api/v1/models/digits/resolve?alias=champion&deviceClass=browser')) as {
      manifest: { variant: string };
    }
  ).manifest.variant;
}
