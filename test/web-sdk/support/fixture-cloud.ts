// A node:http server that plays the edgeloop cloud for the web SDK's browser tests: it serves the
// app page (optionally cross-origin isolated), the SDK bundle, onnxruntime-web's files under
// /sdk/ort/ (the SDK's default wasmPaths), the resolve and keys endpoints, and artifacts. Tests
// change what it answers (`cloud.resolution`, `cloud.artifacts`) and read what it was asked.
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { base64Encode, type ModelResolution } from '@edgeloop/shared';
import { build } from 'esbuild';

const sdkEntry = fileURLToPath(new URL('../../../web-sdk/src/index.ts', import.meta.url));
// Resolve onnxruntime-web from the SDK's own dependencies (the version the SDK is built against).
const ortDist = dirname(
  createRequire(new URL('../../../web-sdk/package.json', import.meta.url)).resolve('onnxruntime-web'),
);

const CONTENT_TYPES: Record<string, string> = {
  '.mjs': 'text/javascript',
  '.js': 'text/javascript',
  '.wasm': 'application/wasm',
  '.html': 'text/html; charset=utf-8',
  '.png': 'image/png',
  '.json': 'application/json',
};

/** The SDK as an app would ship it: one ESM file, onnxruntime-web left to the page (import map). */
export async function bundleSdk(minify = false): Promise<string> {
  const result = await build({
    entryPoints: [sdkEntry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify,
    external: ['onnxruntime-web', 'onnxruntime-web/*'],
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

function appPage(): string {
  const importMap = {
    imports: {
      'onnxruntime-web/wasm': '/sdk/ort/ort.wasm.min.mjs',
      'onnxruntime-web/webgpu': '/sdk/ort/ort.webgpu.min.mjs',
    },
  };
  return `<!doctype html><meta charset="utf-8"><title>edgeloop web-sdk test app</title>
<script type="importmap">${JSON.stringify(importMap)}</script>
<script type="module">import * as sdk from '/sdk.js'; globalThis.sdk = sdk; globalThis.sdkReady = true;</script>`;
}

export interface RequestRecord {
  path: string;
  authorization: string | undefined;
}

export class FixtureCloud {
  /** What `GET /api/v1/models/digits/resolve` answers (any JSON: tests send broken ones too). */
  resolution: ModelResolution | Record<string, unknown> | undefined;
  /** The signing keys served by `GET /api/v1/keys` (raw 32-byte Ed25519). */
  keys: { keyId: string; publicRaw: Uint8Array }[] = [];
  /** Artifact bytes by URL path (e.g. `/artifacts/<sha>`). */
  readonly artifacts = new Map<string, Uint8Array>();
  /** Extra files by URL path (test images). */
  readonly files = new Map<string, { body: Uint8Array; type: string }>();
  readonly requests: RequestRecord[] = [];
  readonly appKey = 'app_test_key';
  /** Send COEP on onnxruntime-web's files (needed for its thread workers on isolated pages). */
  ortCoep = true;
  private server: Server | undefined;
  private sdk = '';
  origin = '';

  async start(): Promise<void> {
    this.sdk = await bundleSdk();
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        res.writeHead(500).end(String(err));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** How many times a path (or paths starting with a prefix) was requested. */
  count(prefix: string): number {
    return this.requests.filter((r) => r.path.startsWith(prefix)).length;
  }

  /** The app page URL; `isolated` serves COOP/COEP so the page is cross-origin isolated. */
  appUrl(isolated = false): string {
    return `${this.origin}/app.html${isolated ? '?isolated=1' : ''}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.origin);
    this.requests.push({ path: url.pathname, authorization: req.headers.authorization });
    // Every response may be embedded by a require-corp page of the same origin.
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    const send = (
      status: number,
      type: string,
      body: string | Uint8Array,
      headers: Record<string, string> = {},
    ) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers }).end(body);
    };
    const json = (status: number, body: unknown) => send(status, 'application/json', JSON.stringify(body));

    if (url.pathname === '/app.html') {
      const isolation: Record<string, string> =
        url.searchParams.get('isolated') === '1'
          ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' }
          : {};
      return send(200, CONTENT_TYPES['.html']!, appPage(), isolation);
    }
    if (url.pathname === '/sdk.js') return send(200, 'text/javascript', this.sdk);
    if (url.pathname.startsWith('/sdk/ort/')) {
      const name = url.pathname.slice('/sdk/ort/'.length);
      if (!/^[\w.-]+$/.test(name)) return send(400, 'text/plain', 'bad name');
      try {
        const body = await readFile(join(ortDist, name));
        // ORT's threads are workers started from ort-wasm-simd-threaded.mjs; on an isolated page a
        // worker script without its own COEP header is blocked (ERR_BLOCKED_BY_RESPONSE) and session
        // creation hangs. The header is harmless for pages that are not isolated.
        return send(
          200,
          CONTENT_TYPES[extname(name)] ?? 'application/octet-stream',
          body,
          this.ortCoep ? { 'Cross-Origin-Embedder-Policy': 'require-corp' } : {},
        );
      } catch {
        return send(404, 'text/plain', 'not found');
      }
    }
    if (url.pathname.startsWith('/api/')) {
      if (req.headers.authorization !== `Bearer ${this.appKey}`) {
        return json(401, { error: { code: 'UNAUTHENTICATED', message: 'bad app key' } });
      }
      if (url.pathname === '/api/v1/keys') {
        return json(200, {
          keys: this.keys.map((k) => ({
            alg: 'ed25519',
            keyId: k.keyId,
            publicKey: base64Encode(k.publicRaw),
          })),
        });
      }
      if (url.pathname === '/api/v1/models/digits/resolve') {
        if (url.searchParams.get('deviceClass') !== 'browser')
          return json(400, { error: { code: 'VALIDATION_FAILED', message: 'deviceClass' } });
        return this.resolution
          ? json(200, this.resolution)
          : json(404, { error: { code: 'NOT_FOUND', message: 'no alias' } });
      }
      return json(404, { error: { code: 'NOT_FOUND', message: 'no such route' } });
    }
    const artifact = this.artifacts.get(url.pathname);
    if (artifact) return send(200, 'application/octet-stream', artifact);
    const file = this.files.get(url.pathname);
    if (file) return send(200, file.type, file.body);
    send(404, 'text/plain', 'not found');
  }
}
