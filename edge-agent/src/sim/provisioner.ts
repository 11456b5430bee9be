// Identities for simulated devices. A provisioner turns "device sim-0007 of class raspberry-pi-4"
// into MQTT credentials. The HTTP one provisions through the cloud's operator API, exactly as an
// installer would, and keeps each device's one-time password in the simulator's data dir so a restart
// reconnects the same devices instead of creating new ones.
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EdgeloopError, errorEnvelopeSchema } from '@edgeloop/shared';
import { z } from 'zod';
import { isNotFound, writeFileAtomic } from '../durable-fs.ts';

export interface DeviceIdentityRequest {
  deviceId: string;
  /** A firmware-configs profile id. */
  deviceClass: string;
  group?: string;
  tags?: string[];
}

export interface DeviceCredentials {
  deviceId: string;
  /** The MQTT password. */
  token: string;
  /** The broker the cloud told the device to use, if it said. */
  brokerUrl?: string;
}

export interface DeviceProvisioner {
  provision(request: DeviceIdentityRequest): Promise<DeviceCredentials>;
}

/** Every device gets the same password: brokers without per-device accounts (tests, a lab Mosquitto). */
export class SharedTokenProvisioner implements DeviceProvisioner {
  constructor(private readonly token: string) {}

  async provision({ deviceId }: DeviceIdentityRequest): Promise<DeviceCredentials> {
    return { deviceId, token: this.token };
  }
}

export interface HttpDeviceProvisionerOptions {
  /** The cloud API's base URL. */
  cloudUrl: string;
  /** An operator or admin API token. */
  apiToken: string;
  /** Where the devices' passwords are kept between runs (one 0600 file per device). */
  credentialsDir: string;
  /** Issue fresh passwords even for devices whose password is on disk. */
  rotate?: boolean;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

// Only the fields the simulator reads; the cloud's responses carry more.
const credentialsSchema = z.object({
  deviceId: z.string(),
  password: z.string().min(1),
  brokerUrls: z.object({ tcp: z.string().optional() }).optional(),
});
const provisionedSchema = z.object({ credentials: credentialsSchema });
const storedSchema = z.object({
  v: z.literal(1),
  deviceId: z.string(),
  token: z.string().min(1),
  brokerUrl: z.string().optional(),
});

export class HttpDeviceProvisioner implements DeviceProvisioner {
  readonly #baseUrl: string;
  readonly #fetch: typeof fetch;

  constructor(private readonly options: HttpDeviceProvisionerOptions) {
    this.#baseUrl = options.cloudUrl.replace(/\/+$/, '');
    this.#fetch = options.fetch ?? fetch;
  }

  async provision(request: DeviceIdentityRequest): Promise<DeviceCredentials> {
    const stored = this.options.rotate ? null : await this.#readStored(request.deviceId);
    // The password on disk is only good while the cloud still knows the device (a wiped cloud
    // database forgets it); a device that is gone is provisioned again.
    if (stored && (await this.#exists(request.deviceId))) return stored;
    const created = await this.#call('POST', '/api/v1/devices', provisionedSchema, {
      id: request.deviceId,
      deviceClass: request.deviceClass,
      ...(request.group ? { group: request.group } : {}),
      ...(request.tags?.length ? { tags: request.tags } : {}),
    });
    const credentials =
      created.status === 409
        ? // Known to the cloud but not to us (data dir wiped, or --rotate): a new password.
          (
            await this.#call(
              'POST',
              `/api/v1/devices/${request.deviceId}/credentials/rotate`,
              credentialsSchema,
            )
          ).body
        : created.body.credentials;
    const result: DeviceCredentials = {
      deviceId: request.deviceId,
      token: credentials.password,
      ...(credentials.brokerUrls?.tcp ? { brokerUrl: credentials.brokerUrls.tcp } : {}),
    };
    await this.#store(result);
    return result;
  }

  async #exists(deviceId: string): Promise<boolean> {
    const response = await this.#call('GET', `/api/v1/devices/${deviceId}`, z.unknown(), undefined, [404]);
    return response.status !== 404;
  }

  /** One API call; `tolerated` statuses come back to the caller instead of throwing (409 by default). */
  async #call<T>(
    method: string,
    path: string,
    schema: z.ZodType<T>,
    body?: unknown,
    tolerated: number[] = [409],
  ): Promise<{ status: number; body: T }> {
    let response: Response;
    try {
      response = await this.#fetch(`${this.#baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.options.apiToken}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (err) {
      throw new EdgeloopError(
        'UNAVAILABLE',
        `cannot reach the cloud at ${this.#baseUrl}: ${messageOf(err)}`,
        {
          cause: err,
        },
      );
    }
    const json: unknown = await response.json().catch(() => undefined);
    if (tolerated.includes(response.status)) return { status: response.status, body: json as T };
    if (!response.ok) {
      const envelope = errorEnvelopeSchema.safeParse(json);
      const reason = envelope.success
        ? `${envelope.data.error.code}: ${envelope.data.error.message}`
        : `HTTP ${response.status}`;
      throw new EdgeloopError(
        response.status === 401 ? 'UNAUTHENTICATED' : response.status === 403 ? 'FORBIDDEN' : 'UNAVAILABLE',
        `${method} ${path} failed (${reason})`,
      );
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new EdgeloopError('VALIDATION_FAILED', `${method} ${path}: unexpected response from the cloud`, {
        cause: parsed.error,
      });
    }
    return { status: response.status, body: parsed.data };
  }

  #path(deviceId: string): string {
    return join(this.options.credentialsDir, `${deviceId}.json`);
  }

  async #readStored(deviceId: string): Promise<DeviceCredentials | null> {
    let text: string;
    try {
      text = await readFile(this.#path(deviceId), 'utf8');
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
    const parsed = storedSchema.safeParse(safeJson(text));
    // A damaged file is not worth stopping for: the password is re-issued below.
    if (!parsed.success || parsed.data.deviceId !== deviceId) return null;
    const { token, brokerUrl } = parsed.data;
    return { deviceId, token, ...(brokerUrl ? { brokerUrl } : {}) };
  }

  async #store(credentials: DeviceCredentials): Promise<void> {
    await mkdir(this.options.credentialsDir, { recursive: true, mode: 0o700 });
    const path = this.#path(credentials.deviceId);
    await writeFileAtomic(path, JSON.stringify({ v: 1, ...credentials }));
    await chmod(path, 0o600);
  }
}

function messageOf(err: unknown): string {
  const cause = (err as Error).cause;
  return cause instanceof Error ? cause.message : (err as Error).message;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
