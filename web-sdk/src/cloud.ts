// The cloud calls the SDK makes, validated with the shared schemas at the boundary:
// `GET /api/v1/models/{name}/resolve?alias=&deviceClass=`, `GET /api/v1/keys` and telemetry POSTs.
import {
  type ModelResolution,
  modelResolutionSchema,
  type PublicKeySet,
  publicKeySetSchema,
} from '@edgeloop/shared';
import { EdgeloopWebError } from './errors.ts';
import { fetchOrThrow } from './http.ts';

export interface CloudClientOptions {
  /** Base URL of the edgeloop cloud, e.g. `https://edgeloop.example.com`. */
  cloud: string;
  /** App key, sent as `Authorization: Bearer …` to the cloud's origin only. */
  appKey: string;
  fetch?: typeof fetch;
}

/**
 * A thin client for the model-resolution endpoints.
 *
 * @example
 * const client = new CloudClient({ cloud: 'https://edgeloop.example.com', appKey });
 * const { manifest, signature, artifactUrl } = await client.resolve('digits', 'champion', 'browser');
 */
export class CloudClient {
  readonly base: URL;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: CloudClientOptions) {
    try {
      this.base = new URL(options.cloud.endsWith('/') ? options.cloud : `${options.cloud}/`);
    } catch (err) {
      throw new EdgeloopWebError(
        'VALIDATION_FAILED',
        `cloud must be an absolute URL, got "${options.cloud}"`,
        {
          cause: err,
        },
      );
    }
    if (!options.appKey) throw new EdgeloopWebError('VALIDATION_FAILED', 'appKey is required');
    // Bind: calling a bare `fetch` reference with another `this` throws "Illegal invocation".
    this.fetchImpl = options.fetch ?? fetch.bind(globalThis);
  }

  /** Absolute URL for a path or URL relative to the cloud. */
  url(pathOrUrl: string): string {
    return new URL(pathOrUrl.replace(/^\//, ''), this.base).toString();
  }

  /** Headers for a request to `url`: the app key goes to the cloud's origin and nowhere else. */
  headersFor(url: string): Record<string, string> {
    return new URL(url).origin === this.base.origin ? { authorization: `Bearer ${this.options.appKey}` } : {};
  }

  private async getJson(path: string, what: string): Promise<unknown> {
    const url = this.url(path);
    const response = await fetchOrThrow(
      this.fetchImpl,
      url,
      { headers: { ...this.headersFor(url), accept: 'application/json' }, cache: 'no-store' },
      what,
    );
    try {
      return await response.json();
    } catch (err) {
      throw new EdgeloopWebError('MALFORMED_JSON', `${what}: response is not JSON`, { cause: err });
    }
  }

  /** POSTs `body` as JSON with the app key; resolves the parsed JSON answer. */
  async postJson(path: string, body: unknown, what: string): Promise<unknown> {
    const url = this.url(path);
    const response = await fetchOrThrow(
      this.fetchImpl,
      url,
      {
        method: 'POST',
        headers: { ...this.headersFor(url), 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
        cache: 'no-store',
      },
      what,
    );
    try {
      return await response.json();
    } catch (err) {
      throw new EdgeloopWebError('MALFORMED_JSON', `${what}: response is not JSON`, { cause: err });
    }
  }

  /** Which signed artifact this device class should run for `alias`. */
  async resolve(model: string, alias: string, deviceClass: string): Promise<ModelResolution> {
    const query = new URLSearchParams({ alias, deviceClass });
    const what = `resolve ${model}@${alias}`;
    const body = await this.getJson(`api/v1/models/${encodeURIComponent(model)}/resolve?${query}`, what);
    const parsed = modelResolutionSchema.safeParse(body);
    if (!parsed.success) {
      // An unsigned manifest is a security refusal, not a shape problem: say so with its own code.
      const unsigned = typeof body === 'object' && body !== null && !('signature' in body && body.signature);
      throw new EdgeloopWebError(
        unsigned ? 'SIGNATURE_MISSING' : 'VALIDATION_FAILED',
        `${what}: ${unsigned ? 'manifest is unsigned' : 'invalid response'}`,
        {
          details: parsed.error.issues,
        },
      );
    }
    if (parsed.data.manifest.name !== model) {
      throw new EdgeloopWebError(
        'VALIDATION_FAILED',
        `${what}: cloud returned model ${parsed.data.manifest.name}`,
      );
    }
    return parsed.data;
  }

  /** The cloud's signing public keys. */
  async keys(): Promise<PublicKeySet> {
    const body = await this.getJson('api/v1/keys', 'fetch signing keys');
    const parsed = publicKeySetSchema.safeParse(body);
    if (!parsed.success) {
      throw new EdgeloopWebError('VALIDATION_FAILED', 'fetch signing keys: invalid response', {
        details: parsed.error.issues,
      });
    }
    return parsed.data;
  }
}
