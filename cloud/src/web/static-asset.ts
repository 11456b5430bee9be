// One way to answer for a file the cloud serves to browsers: strong ETag (304 on a match), gzip when
// the client takes it (the 14 MB onnxruntime wasm goes out as 3.7 MB), and the caller's caching and
// isolation headers on every answer, 304s included.
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { Context } from 'hono';

const gzipAsync = promisify(gzip);

export interface StaticAsset {
  contentType: string;
  /** Quoted strong validator of the identity bytes, e.g. `"ort-1.30.0-x.wasm"`. */
  etag: string;
  body: Uint8Array;
  gzipped: Uint8Array;
}

/** Compresses once; assets are built or read once per process and kept. */
export async function makeAsset(contentType: string, etag: string, body: Uint8Array): Promise<StaticAsset> {
  return { contentType, etag, body, gzipped: new Uint8Array(await gzipAsync(body, { level: 6 })) };
}

function acceptsGzip(header: string | undefined): boolean {
  return (header ?? '').split(',').some((part) => {
    const [coding, ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    return (coding === 'gzip' || coding === '*') && (q === undefined || Number(q.slice(2)) > 0);
  });
}

function matches(ifNoneMatch: string | undefined, etags: string[]): boolean {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch.split(',').some((t) => {
    const tag = t.trim().replace(/^W\//, '');
    return tag === '*' || etags.includes(tag);
  });
}

export function sendAsset(c: Context, asset: StaticAsset, headers: Record<string, string>): Response {
  const gz = acceptsGzip(c.req.header('accept-encoding'));
  // Each encoding is a different representation, so it gets its own validator.
  const gzEtag = `${asset.etag.slice(0, -1)}-gzip"`;
  const common = { ...headers, Vary: 'Accept-Encoding', ETag: gz ? gzEtag : asset.etag };
  if (matches(c.req.header('if-none-match'), [asset.etag, gzEtag])) return c.body(null, 304, common);
  const body = gz ? asset.gzipped : asset.body;
  return c.body(body as Uint8Array<ArrayBuffer>, 200, {
    ...common,
    'Content-Type': asset.contentType,
    'Content-Length': String(body.byteLength),
    ...(gz ? { 'Content-Encoding': 'gzip' } : {}),
  });
}
