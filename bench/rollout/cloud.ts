// Setup, cloud side: the real cloud (`startCloud`: embedded aedes broker, PGlite, MQTT bridge, artifact
// server, rollout scheduler, operator API) in the bench process, driven over its operator API, and
// models imported through the real pipeline (quantized, golden set, signed, registered).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, loadCloudConfig, type RunningCloud, silentLogger, startCloud } from '@edgeloop/cloud';
import { sleep } from './process.ts';

/** What the artifact server counted (its Prometheus counters), cumulative since the cloud started. */
export interface ArtifactCounters {
  /** Chunk frame bytes published on `el/v1/art/…` topics, headers included. */
  bytesPublished: number;
  chunksPublished: number;
  /** Requested chunks answered by a publish already queued, in flight or just sent. */
  chunksCoalesced: number;
  chunksShed: number;
  /** Device requests by outcome (served, rate_limited, overloaded, …). */
  requests: Record<string, number>;
}

export interface BenchCloud {
  cloud: RunningCloud;
  dir: string;
  api<T>(method: string, path: string, body?: unknown): Promise<T>;
  bytesPublished(): Promise<number>;
  artifactCounters(): Promise<ArtifactCounters>;
  close(): Promise<void>;
}

/** Where the cloud's broker and database live; both default to embedded (aedes, PGlite). */
export interface BenchCloudOptions {
  /** An external broker, e.g. Mosquitto at mqtt://127.0.0.1:1883. */
  mqttUrl?: string;
  /** The cloud's MQTT password on that broker. */
  mqttCloudSecret?: string;
  /** A PostgreSQL database the cloud migrates and owns for the run. */
  databaseUrl?: string;
  /** Shared-subscription group: unique per run on a shared broker, so no other cloud takes a share. */
  mqttShareGroup?: string;
}

export async function startBenchCloud(options: BenchCloudOptions = {}): Promise<BenchCloud> {
  const dir = await mkdtemp(join(tmpdir(), 'edgeloop-bench-cloud-'));
  const config = loadCloudConfig({
    flags: {
      port: '0',
      'mqtt-port': '0',
      'mqtt-ws-port': '0',
      'data-dir': dir,
      'quick-start': true,
      ...(options.mqttUrl ? { 'mqtt-url': options.mqttUrl } : {}),
      ...(options.mqttCloudSecret ? { 'mqtt-cloud-secret': options.mqttCloudSecret } : {}),
      ...(options.databaseUrl ? { 'database-url': options.databaseUrl } : {}),
      ...(options.mqttShareGroup ? { 'mqtt-share-group': options.mqttShareGroup } : {}),
    },
  });
  const cloud = await startCloud(config, {
    logger: process.env.BENCH_LOG ? createLogger({ level: 'warn', format: 'json' }) : silentLogger,
    bootstrapModel: false,
  });
  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${cloud.urls.api}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${cloud.adminToken}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 500)}`);
    return JSON.parse(text) as T;
  };
  const metricValues = async (name: string) =>
    (await cloud.metrics.getSingleMetric(name)?.get())?.values ?? [];
  const total = async (name: string) => (await metricValues(name)).reduce((sum, v) => sum + v.value, 0);
  const bytesPublished = () => total('edgeloop_artifact_bytes_published_total');
  return {
    cloud,
    dir,
    api,
    bytesPublished,
    async artifactCounters() {
      const requests: Record<string, number> = {};
      for (const v of await metricValues('edgeloop_artifact_requests_total')) {
        const outcome = String(v.labels.outcome ?? '');
        requests[outcome] = (requests[outcome] ?? 0) + v.value;
      }
      return {
        bytesPublished: await bytesPublished(),
        chunksPublished: await total('edgeloop_artifact_chunks_published_total'),
        chunksCoalesced: await total('edgeloop_artifact_chunk_requests_coalesced_total'),
        chunksShed: await total('edgeloop_artifact_chunks_shed_total'),
        requests,
      };
    },
    async close() {
      await cloud.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `after − before`, counter by counter. */
export function countersSince(before: ArtifactCounters, after: ArtifactCounters): ArtifactCounters {
  const requests: Record<string, number> = {};
  for (const [outcome, n] of Object.entries(after.requests)) {
    const delta = n - (before.requests[outcome] ?? 0);
    if (delta > 0) requests[outcome] = delta;
  }
  return {
    bytesPublished: after.bytesPublished - before.bytesPublished,
    chunksPublished: after.chunksPublished - before.chunksPublished,
    chunksCoalesced: after.chunksCoalesced - before.chunksCoalesced,
    chunksShed: after.chunksShed - before.chunksShed,
    requests,
  };
}

interface JobView {
  id: string;
  status: string;
  result: unknown;
  error: { message: string } | null;
}
export interface ImportedVersion {
  version: number;
  variants: { variant: string; sha256: string; size: number }[];
}

/** Imports an ONNX digits model (1×28×28 → 10) through the pipeline job and waits for it. */
export async function importDigitsModel(
  bench: BenchCloud,
  name: string,
  bytes: Uint8Array,
  outputRoles?: Record<string, string>,
): Promise<ImportedVersion> {
  const accepted = await bench.api<{ job: { id: string } }>('POST', '/api/v1/models/import', {
    name,
    onnx: Buffer.from(bytes).toString('base64'),
    classes: Array.from({ length: 10 }, (_, i) => String(i)),
    preprocessing: { layout: 'NCHW', channels: 1, height: 28, width: 28 },
    calibration: { kind: 'mnist' },
    ...(outputRoles ? { outputRoles } : {}),
  });
  for (;;) {
    const job = await bench.api<JobView>('GET', `/api/v1/jobs/${accepted.job.id}`);
    if (job.status === 'succeeded') return job.result as ImportedVersion;
    if (job.status === 'failed' || job.status === 'cancelled') {
      throw new Error(`import of ${name} ${job.status}: ${job.error?.message ?? ''}`);
    }
    await sleep(200);
  }
}
