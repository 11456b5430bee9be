// Where browser windows enter ingestion, for both routes (bearer POST and beacon): the install is
// registered as a `browser` device on first sight, then each window goes to the MQTT path's own
// ingestor, so rollups, drift and dashboards see browsers as one more device class.
import {
  EdgeloopError,
  type TelemetryWindow,
  WEB_DEVICE_CLASS,
  type WebTelemetryAccepted,
} from '@edgeloop/shared';
import { eq } from 'drizzle-orm';
import type { Context } from 'hono';
import { devices } from '../../db/schema.ts';
import type { TelemetryIngestor } from '../../ingest/index.ts';
import type { ApiDatabase, ApiEnv } from '../deps.ts';

/** What the routes need from ingestion: the MQTT path's own entry point. */
export type WebTelemetrySink = Pick<TelemetryIngestor, 'offer' | 'hasRoom'>;

export class WebTelemetryIntake {
  readonly #known = new Set<string>(); // ids already registered by this process: one upsert per install

  constructor(
    private readonly db: ApiDatabase,
    private readonly sink: WebTelemetrySink,
  ) {}

  /** Queues one validated batch (all windows from one `web-…` device) for `appName`'s key. */
  async accept(
    c: Context<ApiEnv>,
    windows: TelemetryWindow[],
    appName: string,
  ): Promise<WebTelemetryAccepted> {
    const deviceId = (windows[0] as TelemetryWindow).deviceId;
    if (!this.sink.hasRoom) {
      c.header('Retry-After', '5');
      throw new EdgeloopError('UNAVAILABLE', 'telemetry ingestion is catching up; retry shortly');
    }
    await this.#registerBrowser(deviceId, appName);
    let rateLimited = 0;
    for (const window of windows) if (this.sink.offer(deviceId, window) === 'rate_limited') rateLimited++;
    return { deviceId, accepted: windows.length - rateLimited, rateLimited };
  }

  async #registerBrowser(deviceId: string, appName: string): Promise<void> {
    if (this.#known.has(deviceId)) return;
    await this.db
      .insert(devices)
      .values({ id: deviceId, deviceClass: WEB_DEVICE_CLASS, displayName: `browser (${appName})` })
      .onConflictDoNothing();
    const [row] = await this.db
      .select({ deviceClass: devices.deviceClass })
      .from(devices)
      .where(eq(devices.id, deviceId));
    if (row?.deviceClass !== WEB_DEVICE_CLASS) {
      // An app key must never speak for a provisioned device that happens to be called web-….
      throw new EdgeloopError('FORBIDDEN', `${deviceId} is not a browser installation`, {
        details: { reason: 'DEVICE_MISMATCH' },
      });
    }
    this.#known.add(deviceId);
  }
}
