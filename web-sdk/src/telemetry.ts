// Telemetry from the page: the same windows an edge agent publishes (counts, errors, latency summary,
// class counts, mean confidence, drift sketches — built by the shared `TelemetryWindowBuilder`),
// batched and POSTed to the cloud with the app key. On page hide the current window is closed and
// everything unsent goes out with `navigator.sendBeacon`, which the browser delivers even as the page
// is torn down. Unsent windows wait in a bounded in-memory buffer (the oldest are dropped and the
// next window says how many); a refused key stops telemetry instead of retrying forever.
import {
  type ErrorCode,
  type InferenceObservation,
  type ModelRef,
  type TelemetryWindow,
  TelemetryWindowBuilder,
  WEB_TELEMETRY_BEACON_MAX_BYTES,
  WEB_TELEMETRY_BEACON_PATH,
  WEB_TELEMETRY_MAX_WINDOWS,
  WEB_TELEMETRY_PATH,
  webTelemetryAcceptedSchema,
} from '@edgeloop/shared';
import type { CloudClient } from './cloud.ts';
import { asWebError, EdgeloopWebError } from './errors.ts';
import { InstallIdentity, type KeyValueStorage, pageStorage } from './install-id.ts';

/** `load({ telemetry })`: how the page reports. Pass `telemetry: false` to send and store nothing. */
export interface TelemetryOptions {
  /** Length of a window, ms. Default 60 s (the browser device-class profile). */
  windowMs?: number;
  /** Unsent windows kept while the cloud is unreachable; the oldest are dropped past it. Default 64. */
  maxBufferedWindows?: number;
}

/** What telemetry has done so far (`model.telemetry?.status()`). */
export interface TelemetryStatus {
  /** `web-<install id>`: how the cloud counts this browser profile. */
  deviceId: string;
  /** Windows the cloud accepted, or the browser took as a beacon. */
  sentWindows: number;
  bufferedWindows: number;
  /** Windows lost: buffer overflow, rate limit, or refused by the cloud as invalid. */
  droppedWindows: number;
  /** Set when the cloud refused the app key; telemetry has stopped. */
  refused?: { code: ErrorCode; message: string };
}

/** The browser pieces telemetry uses, replaceable in tests. */
export interface TelemetryEnvironment {
  storage: KeyValueStorage | undefined;
  sendBeacon: ((url: string, body: string) => boolean) | undefined;
  /** Fires `visibilitychange` (with `visibilityState`) and `pagehide`. */
  page: (EventTarget & { visibilityState?: string }) | undefined;
  now: () => number;
}

const RETRY_BASE_MS = 2_000;
// A refused key, or a cloud that takes no web telemetry: retrying cannot help, so telemetry stops.
const REFUSALS: readonly ErrorCode[] = ['UNAUTHENTICATED', 'FORBIDDEN', 'TOKEN_REVOKED', 'NOT_FOUND'];
// The cloud will never take these windows; anything else (network, 429, 5xx) is worth a retry.
const UNSENDABLE: readonly ErrorCode[] = ['VALIDATION_FAILED', 'PAYLOAD_TOO_LARGE'];
// Room for `{"appKey":"…","windows":[…]}` around the windows in a beacon.
const BEACON_WINDOW_BYTES = WEB_TELEMETRY_BEACON_MAX_BYTES - 1024;

function browserEnvironment(): TelemetryEnvironment {
  const nav = typeof navigator === 'undefined' ? undefined : navigator;
  return {
    storage: pageStorage(),
    sendBeacon: typeof nav?.sendBeacon === 'function' ? (url, body) => nav.sendBeacon(url, body) : undefined,
    page: typeof document === 'undefined' ? undefined : document,
    now: Date.now,
  };
}

/**
 * The page's telemetry reporter, created by `load()` unless `telemetry: false`.
 *
 * @example
 * const model = await edgeloop.load({ cloud, appKey, model: 'digits', telemetry: { windowMs: 30_000 } });
 * await model.telemetry?.flush(); // close the current window and send it now
 * console.log(model.telemetry?.status()); // { deviceId: 'web-…', sentWindows: 1, … }
 */
export class WebTelemetry {
  readonly #client: CloudClient;
  readonly #appKey: string;
  readonly #env: TelemetryEnvironment;
  readonly #install: InstallIdentity;
  readonly #builder: TelemetryWindowBuilder;
  readonly #windowMs: number;
  readonly #maxBuffered: number;
  readonly #refusalListeners = new Set<(error: EdgeloopWebError) => void>();
  #model: { ref: ModelRef; classCount: number } | undefined;
  #buffer: TelemetryWindow[] = [];
  #sent = 0;
  #dropped = 0;
  #droppedSinceWindow = 0;
  #failures = 0;
  #refused: TelemetryStatus['refused'];
  #sending: Promise<void> | undefined;
  #windowTimer: ReturnType<typeof setInterval> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  constructor(
    client: CloudClient,
    appKey: string,
    options: TelemetryOptions = {},
    env: Partial<TelemetryEnvironment> = {},
  ) {
    this.#client = client;
    this.#appKey = appKey;
    this.#env = { ...browserEnvironment(), ...env };
    this.#windowMs = options.windowMs ?? 60_000;
    this.#maxBuffered = options.maxBufferedWindows ?? WEB_TELEMETRY_MAX_WINDOWS;
    if (!(this.#windowMs >= 100)) {
      throw new EdgeloopWebError('VALIDATION_FAILED', 'telemetry.windowMs must be at least 100');
    }
    if (!Number.isInteger(this.#maxBuffered) || this.#maxBuffered < 1) {
      throw new EdgeloopWebError(
        'VALIDATION_FAILED',
        'telemetry.maxBufferedWindows must be a positive integer',
      );
    }
    this.#install = new InstallIdentity(this.#env.storage);
    this.#builder = new TelemetryWindowBuilder({ deviceId: this.#install.deviceId, now: this.#env.now });
    this.#windowTimer = setInterval(() => this.#tick(), this.#windowMs);
    this.#env.page?.addEventListener('visibilitychange', this.#onVisibility);
    this.#env.page?.addEventListener('pagehide', this.#onHide);
  }

  /** Which model windows are reported for; a change closes the current window under the old one. */
  useModel(ref: ModelRef, classCount: number): void {
    if (this.#model && this.#model.ref.sha256 !== ref.sha256) this.#closeWindow();
    this.#model = { ref, classCount };
  }

  /**
   * Calls `listener` if the cloud refuses the app key (telemetry then stops). Returns an unsubscribe.
   *
   * @example
   * model.telemetry?.onRefused((err) => console.warn('telemetry off:', err.code));
   */
  onRefused(listener: (error: EdgeloopWebError) => void): () => void {
    this.#refusalListeners.add(listener);
    return () => this.#refusalListeners.delete(listener);
  }

  recordInference(observation: InferenceObservation): void {
    if (!this.#stopped) this.#builder.recordInference(observation);
  }

  recordError(): void {
    if (!this.#stopped) this.#builder.recordError();
  }

  status(): TelemetryStatus {
    return {
      deviceId: this.#install.deviceId,
      sentWindows: this.#sent,
      bufferedWindows: this.#buffer.length,
      droppedWindows: this.#dropped,
      ...(this.#refused ? { refused: { ...this.#refused } } : {}),
    };
  }

  /**
   * Closes the current window (when it saw any inference) and sends everything buffered. Never
   * rejects: failures leave the windows buffered for a retry, and show in `status()`.
   */
  flush(): Promise<void> {
    this.#closeWindow();
    return this.#send();
  }

  /** Stops the window timer and listeners after a last flush. */
  async dispose(): Promise<void> {
    if (this.#stopped) return;
    await this.flush();
    this.#stop();
  }

  readonly #onVisibility = (): void => {
    if (this.#env.page?.visibilityState === 'hidden') this.#onHide();
  };

  /** The page may never run again: close the window and hand everything to the browser. */
  readonly #onHide = (): void => {
    if (this.#stopped) return;
    this.#closeWindow();
    const beacon = this.#env.sendBeacon;
    if (!beacon) {
      void this.#send();
      return;
    }
    const url = this.#client.url(WEB_TELEMETRY_BEACON_PATH);
    while (this.#buffer.length > 0) {
      const windows = this.#beaconChunk();
      if (!beacon(url, JSON.stringify({ appKey: this.#appKey, windows }))) break; // over the quota
      this.#buffer.splice(0, windows.length);
      this.#sent += windows.length;
    }
  };

  /** The oldest windows that fit one beacon (at least one: a window is at most 16 KB). */
  #beaconChunk(): TelemetryWindow[] {
    const chunk: TelemetryWindow[] = [];
    let bytes = 0;
    for (const window of this.#buffer) {
      bytes += JSON.stringify(window).length + 1;
      if (chunk.length > 0 && (bytes > BEACON_WINDOW_BYTES || chunk.length >= WEB_TELEMETRY_MAX_WINDOWS))
        break;
      chunk.push(window);
    }
    return chunk;
  }

  #tick(): void {
    this.#closeWindow();
    void this.#send();
  }

  /** Empty windows are not sent: an idle tab costs no requests. */
  #closeWindow(): void {
    if (this.#stopped) return;
    if (this.#builder.inferences === 0 || !this.#model) {
      this.#builder.restart();
      return;
    }
    const window = this.#builder.close({
      seq: this.#install.takeSeq(),
      model: this.#model.ref,
      classCount: this.#model.classCount,
      droppedWindows: this.#droppedSinceWindow,
    });
    this.#droppedSinceWindow = 0;
    this.#buffer.push(window);
    const overflow = this.#buffer.length - this.#maxBuffered;
    if (overflow > 0) {
      this.#buffer.splice(0, overflow);
      this.#drop(overflow);
    }
  }

  #drop(windows: number): void {
    this.#dropped += windows;
    this.#droppedSinceWindow += windows;
  }

  #send(): Promise<void> {
    this.#sending ??= this.#sendAll().finally(() => {
      this.#sending = undefined;
    });
    return this.#sending;
  }

  async #sendAll(): Promise<void> {
    while (!this.#stopped && this.#buffer.length > 0) {
      const windows = this.#buffer.slice(0, WEB_TELEMETRY_MAX_WINDOWS);
      const outcome = await this.#post(windows);
      if (outcome === 'retry') {
        this.#scheduleRetry();
        return;
      }
      // Sent, or refused as invalid: either way these windows leave the buffer.
      this.#buffer = this.#buffer.filter((w) => !windows.includes(w));
      this.#failures = 0;
    }
  }

  async #post(windows: TelemetryWindow[]): Promise<'done' | 'retry'> {
    try {
      const answer = webTelemetryAcceptedSchema.safeParse(
        await this.#client.postJson(WEB_TELEMETRY_PATH, { windows }, 'send telemetry'),
      );
      const accepted = answer.success ? answer.data.accepted : windows.length;
      this.#sent += accepted;
      if (accepted < windows.length) this.#drop(windows.length - accepted); // over the rate limit
      return 'done';
    } catch (err) {
      const error = asWebError(err, 'UNAVAILABLE', 'send telemetry');
      if (REFUSALS.includes(error.code)) {
        this.#refused = { code: error.code, message: error.message };
        this.#drop(this.#buffer.length);
        this.#buffer = [];
        this.#stop();
        for (const listener of this.#refusalListeners) listener(error);
        return 'done';
      }
      if (UNSENDABLE.includes(error.code)) {
        this.#drop(windows.length);
        return 'done';
      }
      return 'retry';
    }
  }

  #scheduleRetry(): void {
    if (this.#retryTimer !== undefined || this.#stopped) return;
    const delay = Math.min(this.#windowMs, RETRY_BASE_MS * 2 ** this.#failures);
    this.#failures = Math.min(this.#failures + 1, 16);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#send();
    }, delay);
  }

  #stop(): void {
    this.#stopped = true;
    clearInterval(this.#windowTimer);
    clearTimeout(this.#retryTimer);
    this.#env.page?.removeEventListener('visibilitychange', this.#onVisibility);
    this.#env.page?.removeEventListener('pagehide', this.#onHide);
  }
}
