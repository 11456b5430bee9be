// The agent's local HTTP API (Hono), for the applications on the device: POST /infer classifies an
// image (optional `?topK=`, and `?label=<class index>` when the caller knows the true class: it is
// carried into retraining samples, never into the prediction), GET /healthz says whether a model is
// serving, GET /metrics is this agent's Prometheus registry. Errors leave through one handler, as
// the shared error envelope.
import type { AddressInfo } from 'node:net';
import { EdgeloopError, type ErrorCode, errorEnvelope, type ModelRef } from '@edgeloop/shared';
import { serve } from '@hono/node-server';
import { Hono, type HonoRequest } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { InferenceFeature } from './features/inference.ts';
import type { AgentMetrics } from './metrics.ts';

export interface LocalApiOptions {
  inference: Pick<InferenceFeature, 'classify' | 'model'>;
  metrics: AgentMetrics;
  /** Extra facts for /healthz (connection, update phase). */
  health: () => Record<string, unknown>;
  maxImageBytes: number;
}

/** HTTP status for each error code: the one place the mapping lives. */
export function httpStatus(code: ErrorCode): ContentfulStatusCode {
  switch (code) {
    case 'VALIDATION_FAILED':
    case 'MALFORMED_JSON':
      return 400;
    case 'PAYLOAD_TOO_LARGE':
      return 413;
    case 'NOT_FOUND':
      return 404;
    case 'UNAVAILABLE':
      return 503;
    case 'TIMEOUT':
      return 504;
    default:
      return 500;
  }
}

export interface InferResponse {
  label: string;
  classIndex: number;
  confidence: number;
  topK: { label: string; classIndex: number; confidence: number }[];
  latencyMs: number;
  model: ModelRef;
}

/**
 * The request body, refused past `maxBytes` with PAYLOAD_TOO_LARGE. A declared length is checked
 * before anything is read, and the body is then read in one piece, which @hono/node-server does
 * straight off the socket. (hono's bodyLimit middleware touches `req.raw.body` instead, which makes
 * the adapter build a web stream and a full `Request` for every call: a third of the HTTP cost of a
 * small JPEG, bench/README.md.) A body without a declared length is counted as it arrives.
 */
export async function readImageBody(req: HonoRequest, maxBytes: number): Promise<Uint8Array> {
  const tooLarge = () =>
    new EdgeloopError('PAYLOAD_TOO_LARGE', `image exceeds the limit of ${maxBytes} bytes`);
  const declared = req.header('content-length');
  if (declared !== undefined && req.header('transfer-encoding') === undefined) {
    if (!(Number(declared) <= maxBytes)) throw tooLarge();
    const body = new Uint8Array(await req.arrayBuffer());
    if (body.byteLength > maxBytes) throw tooLarge();
    return body;
  }
  const stream = req.raw.body;
  if (!stream) return new Uint8Array(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

export function createLocalApi(options: LocalApiOptions): Hono {
  const app = new Hono();

  app.post('/infer', async (c) => {
    const image = await readImageBody(c.req, options.maxImageBytes);
    const topKParam = c.req.query('topK');
    const topK = topKParam === undefined ? 3 : Number(topKParam);
    if (!Number.isInteger(topK) || topK < 1 || topK > 1000) {
      throw new EdgeloopError('VALIDATION_FAILED', 'topK must be an integer from 1 to 1000');
    }
    // Optional ground truth (`?label=<class index>`): it rides along into retraining samples.
    const labelParam = c.req.query('label');
    if (labelParam !== undefined && !/^\d{1,3}$/.test(labelParam)) {
      throw new EdgeloopError('VALIDATION_FAILED', 'label must be a class index (an integer from 0 to 999)');
    }
    const label = labelParam === undefined ? undefined : Number(labelParam);
    const result = await options.inference.classify(image, topK, label === undefined ? {} : { label });
    const body: InferResponse = {
      label: result.label,
      classIndex: result.classIndex,
      confidence: result.confidence,
      topK: result.topK,
      latencyMs: result.latencyMs,
      model: result.model,
    };
    return c.json(body);
  });

  app.get('/healthz', (c) => {
    const model = options.inference.model;
    return c.json({ status: model ? 'ok' : 'no_model', model, ...options.health() }, model ? 200 : 503);
  });

  app.get('/metrics', async (c) => {
    c.header('content-type', options.metrics.registry.contentType);
    return c.body(await options.metrics.registry.metrics());
  });

  app.notFound((c) => c.json(errorEnvelope('NOT_FOUND', `no route ${c.req.method} ${c.req.path}`), 404));

  app.onError((err, c) => {
    const error =
      err instanceof EdgeloopError ? err : new EdgeloopError('INTERNAL', 'internal error', { cause: err });
    // Details of internal errors stay in the log; callers get the code and a sentence.
    const envelope =
      error.code === 'INTERNAL' ? errorEnvelope('INTERNAL', error.message) : error.toEnvelope();
    return c.json(envelope, httpStatus(error.code));
  });

  return app;
}

export interface LocalApiServer {
  url: string;
  close(): Promise<void>;
}

export async function serveLocalApi(app: Hono, host: string, port: number): Promise<LocalApiServer> {
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: host, port }, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive sockets of idle clients would hold close() open.
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}
