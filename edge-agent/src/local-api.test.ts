// Routes tested in-process with app.request(), over a stand-in inference feature; the body reader
// also over a real socket, where @hono/node-server hands it the body by another path.
import { request as httpRequest } from 'node:http';
import { EdgeloopError, errorEnvelopeSchema } from '@edgeloop/shared';
import { describe, expect, it } from 'vitest';
import type { InferenceFeature, InferenceResult } from './features/inference.ts';
import { createLocalApi, serveLocalApi } from './local-api.ts';
import { AgentMetrics } from './metrics.ts';

const model = { name: 'digits', version: '3', variant: 'int8' as const, sha256: 'a'.repeat(64) };

function app(classify: InferenceFeature['classify'], serving = true) {
  const metrics = new AgentMetrics({ deviceId: 'cam-1' });
  return createLocalApi({
    inference: { classify, model: serving ? model : null },
    metrics,
    health: () => ({ connected: false }),
    maxImageBytes: 2048,
  });
}

describe('local API', () => {
  it('classifies the request body and passes topK through', async () => {
    let seen: { bytes: number; topK: number } | undefined;
    const api = app(async (image, topK = 3) => {
      seen = { bytes: (image as Uint8Array).length, topK };
      return {
        classIndex: 1,
        label: 'one',
        confidence: 0.9,
        topK: [],
        latencyMs: 0.2,
        model,
      } as InferenceResult;
    });
    const response = await api.request('/infer?topK=2', { method: 'POST', body: new Uint8Array(100) });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ label: 'one', classIndex: 1, model: { version: '3' } });
    expect(seen).toEqual({ bytes: 100, topK: 2 });
  });

  it('maps errors to statuses with the shared envelope', async () => {
    const failing = app(async () => {
      throw new EdgeloopError('VALIDATION_FAILED', 'cannot decode image');
    });
    const cases: [Request, number, string][] = [
      [new Request('http://x/infer', { method: 'POST', body: new Uint8Array(10) }), 400, 'VALIDATION_FAILED'],
      [
        new Request('http://x/infer', { method: 'POST', body: new Uint8Array(4096) }),
        413,
        'PAYLOAD_TOO_LARGE',
      ],
      [
        new Request('http://x/infer?topK=0', { method: 'POST', body: new Uint8Array(10) }),
        400,
        'VALIDATION_FAILED',
      ],
      [new Request('http://x/nope'), 404, 'NOT_FOUND'],
    ];
    for (const [request, status, code] of cases) {
      const response = await failing.request(request);
      expect(response.status).toBe(status);
      const body = errorEnvelopeSchema.parse(await response.json());
      expect(body.error.code).toBe(code);
    }
    const crashing = app(async () => {
      throw new TypeError('secret internals');
    });
    const response = await crashing.request('/infer', { method: 'POST', body: new Uint8Array(10) });
    expect(response.status).toBe(500);
    expect(JSON.stringify(await response.json())).not.toContain('secret internals');
  });

  it('reports health and serves this agent registry only', async () => {
    expect((await app(async () => ({}) as InferenceResult, false).request('/healthz')).status).toBe(503);
    const api = app(async () => ({}) as InferenceResult);
    const health = await api.request('/healthz');
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', model: { version: '3' } });
    const metrics = await api.request('/metrics');
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(await metrics.text()).toContain('edgeloop_agent_inference_queue_depth{device_id="cam-1"} 0');
  });

  it('reads image bodies over a socket, declared or chunked, and refuses them past the limit', async () => {
    const seen: number[][] = [];
    const server = await serveLocalApi(
      app(async (image) => {
        seen.push(Array.from(image as Uint8Array));
        return {
          classIndex: 0,
          label: 'zero',
          confidence: 1,
          topK: [],
          latencyMs: 0,
          model,
        } as InferenceResult;
      }),
      '127.0.0.1',
      0,
    );
    const post = (chunks: Uint8Array[], headers: Record<string, string | number> = {}) =>
      new Promise<{ status: number; code?: string }>((resolve, reject) => {
        // A fresh connection each: a refused body may be left unread on the socket.
        const req = httpRequest(`${server.url}/infer`, { method: 'POST', headers, agent: false }, (res) => {
          let text = '';
          res.on('data', (d) => {
            text += d;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, code: JSON.parse(text).error?.code }));
        });
        req.on('error', reject);
        for (const chunk of chunks) req.write(chunk);
        req.end();
      });
    try {
      const bytes = Uint8Array.from({ length: 1500 }, (_, i) => (i * 7) & 255);
      const declared = await fetch(`${server.url}/infer`, { method: 'POST', body: bytes });
      expect(declared.status).toBe(200);
      expect(await post([bytes.subarray(0, 700), bytes.subarray(700)])).toEqual({ status: 200 });
      expect(seen).toEqual([Array.from(bytes), Array.from(bytes)]);
      const big = new Uint8Array(1500);
      // Past the limit: declared up front (refused before reading), or only found out by counting.
      expect(await post([big, big], { 'content-length': 3000 })).toEqual({
        status: 413,
        code: 'PAYLOAD_TOO_LARGE',
      });
      expect(await post([big, big])).toEqual({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
      expect(seen).toHaveLength(2);
    } finally {
      await server.close();
    }
  });
});
